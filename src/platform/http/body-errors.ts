import { HttpStatus } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ProblemException } from './problem';

/** What Express's body parser attaches to the errors it raises. */
interface BodyParserError {
  type: string;
  status: number;
  limit?: number;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && typeof (error as BodyParserError).type === 'string' && typeof (error as BodyParserError).status === 'number';
}

function toProblem(error: BodyParserError): ProblemException {
  switch (error.type) {
    case 'entity.too.large':
      return new ProblemException(HttpStatus.PAYLOAD_TOO_LARGE, 'body-too-large', `request body is larger than ${error.limit} bytes`);
    case 'entity.parse.failed':
      return new ProblemException(HttpStatus.BAD_REQUEST, 'malformed-json', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ProblemException(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported-encoding', 'request body encoding is not supported');
    default:
      return new ProblemException(HttpStatus.BAD_REQUEST, 'unreadable-body', 'request body could not be read');
  }
}

/**
 * Express error middleware placed right after the body parser: turns its
 * errors into problem exceptions, which Nest then hands to the global filter.
 */
export function bodyParserErrorsToProblems(error: unknown, _req: Request, _res: Response, next: NextFunction): void {
  next(isBodyParserError(error) ? toProblem(error) : error);
}
