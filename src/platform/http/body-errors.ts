import { HttpStatus } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ProblemException } from './problem';

/** Deepest nesting of arrays and objects a request body may have; no body of the API needs more than a few levels. */
export const MAX_BODY_DEPTH = 32;

/** What Express's body parser attaches to the errors it raises. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  limit?: unknown;
  code?: unknown;
}

/**
 * Refuses a body nested deeper than {@link MAX_BODY_DEPTH}, before it is
 * parsed: one pass over the bytes, counting brackets outside strings. A body
 * of a few kilobytes nested thousands deep would otherwise exhaust the stack
 * of whatever walks it after parsing.
 */
export function refuseDeepBodies(buf: Buffer): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const byte = buf[i];
    if (inString) {
      if (byte === 0x5c) i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > MAX_BODY_DEPTH) {
        throw Object.assign(new Error('body nested too deep'), { type: 'entity.too.deep', status: HttpStatus.BAD_REQUEST });
      }
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
}

function toProblem(error: BodyParserError): ProblemException {
  switch (error.type) {
    case 'entity.too.large':
      return new ProblemException(HttpStatus.PAYLOAD_TOO_LARGE, 'body-too-large', `request body is larger than ${error.limit} bytes`);
    case 'entity.too.deep':
      return new ProblemException(HttpStatus.BAD_REQUEST, 'body-too-deep', `request body is nested deeper than ${MAX_BODY_DEPTH} levels`);
    case 'entity.parse.failed':
      return new ProblemException(HttpStatus.BAD_REQUEST, 'malformed-json', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported-encoding', 'request body encoding is not supported');
    default:
      // A compressed body that does not decompress (zlib's Z_DATA_ERROR and kin), a body cut short, anything else.
      return new ProblemException(HttpStatus.BAD_REQUEST, 'unreadable-body', 'request body could not be read (is its Content-Encoding right?)');
  }
}

/** refuseDeepBodies as body-parser's `verify` hook. */
export const verifyDepth = (_req: Request, _res: Response, buf: Buffer): void => refuseDeepBodies(buf);

/**
 * Express error middleware placed right after the body parser: every error
 * raised there is the body's fault, so each becomes a 4xx problem, which Nest
 * then hands to the global filter.
 */
export function bodyParserErrorsToProblems(error: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(error instanceof ProblemException ? error : toProblem((typeof error === 'object' && error !== null ? error : {}) as BodyParserError));
}
