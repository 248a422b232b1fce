import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpStatus } from '@nestjs/common';
import { PROBLEM_CONTENT_TYPE, problemType, serializeProblem, statusTitle } from './problem';

const HEADERS_TOO_LARGE = 431;

/** What Node's HTTP parser refuses before any route sees the request, as problem statuses. */
const STATUS_BY_CODE: Record<string, number> = {
  HPE_HEADER_OVERFLOW: HEADERS_TOO_LARGE,
  ERR_HTTP_REQUEST_TIMEOUT: HttpStatus.REQUEST_TIMEOUT,
};

/**
 * Answers requests that Node's HTTP parser refuses (headers over 16 KiB, a
 * malformed request line) with problem JSON, like every other error, instead
 * of Node's bare status line; then closes the connection, as Node does.
 */
export function answerClientErrorsWithProblems(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[error.code ?? ''] ?? HttpStatus.BAD_REQUEST;
    const detail =
      status === HEADERS_TOO_LARGE
        ? 'request headers are larger than the queen accepts (16 KiB)'
        : status === HttpStatus.REQUEST_TIMEOUT
          ? 'the request was not received in time'
          : 'the request is not valid HTTP';
    const body = serializeProblem({ type: problemType(status === HttpStatus.BAD_REQUEST ? 'bad-request' : 'request-refused'), title: statusTitle(status), status, detail });
    socket.end(
      `HTTP/1.1 ${status} ${statusTitle(status)}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
