import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PROBLEM_CONTENT_TYPE, ProblemDetails, ProblemException, problemType, serializeProblem, statusTitle } from './problem';

function problem(status: number, slug: string, detail: string): ProblemDetails {
  return { type: problemType(slug), title: statusTitle(status), status, detail };
}

/** The problem JSON an HTTP exception is answered with. */
export function fromHttpException(exception: HttpException, request: Request): ProblemDetails {
  const status = exception.getStatus();
  const body = exception.getResponse();
  if (typeof body === 'object' && body !== null && 'type' in body && 'detail' in body) {
    return body as ProblemDetails;
  }
  if (status === HttpStatus.NOT_FOUND && exception.message.startsWith('Cannot ')) {
    return problem(status, 'no-route', `no route ${request.method} ${request.path}`);
  }
  const message =
    typeof body === 'object' && body !== null && 'message' in body
      ? [(body as { message: unknown }).message].flat().join('; ')
      : exception.message;
  return problem(status, statusTitle(status).toLowerCase().replace(/\s+/g, '-'), message);
}

/**
 * Writes every error as RFC 9457 problem JSON. Unexpected errors become a 500
 * that says nothing about internals; they are logged with their stack.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    let body: ProblemDetails;
    if (exception instanceof HttpException) {
      body = fromHttpException(exception, request);
    } else {
      this.logger.error(
        `unhandled error on ${request.method} ${request.path}`,
        exception instanceof Error ? exception.stack : String(exception),
      );
      body = problem(HttpStatus.INTERNAL_SERVER_ERROR, 'internal', 'the queen failed to handle this request');
    }
    if (response.headersSent) return;
    // RFC 6750: a 401 names the scheme the client should use.
    if (body.status === HttpStatus.UNAUTHORIZED) response.setHeader('WWW-Authenticate', 'Bearer');
    if (exception instanceof ProblemException && exception.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    response.status(body.status).type(PROBLEM_CONTENT_TYPE).send(serializeProblem(body));
  }
}
