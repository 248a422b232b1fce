import { HttpStatus } from '@nestjs/common';
import { ProblemException } from '../../platform/http/problem';

/** How long a caller should wait before trying again when the database is busy or away. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** SQLite's "someone else holds the lock" and "cannot reach the file". */
const SQLITE_UNAVAILABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY']);
/** Socket errors of a PostgreSQL connection that never came or went away. */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);
/** PostgreSQL's messages for a pool that waited too long, or a connection that dropped. */
const PG_UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout/i;

/** The database is busy or unreachable: the request may succeed later, so it is a 503, not a 500. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseBusyError) return true;
  const { code, message, driverError } = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    message?: unknown;
    driverError?: { code?: unknown };
  };
  const codes = [code, driverError?.code].filter((value): value is string => typeof value === 'string');
  // PostgreSQL SQLSTATE class 08 (connection exception), 53 (insufficient resources), 57P (operator intervention).
  if (codes.some((c) => SQLITE_UNAVAILABLE.has(c) || CONNECTION_ERRORS.has(c) || /^(08|53|57P)/.test(c))) return true;
  return typeof message === 'string' && PG_UNAVAILABLE_MESSAGES.test(message);
}

/** Raised when a catalog write waited its bound for the one writer's turn. */
export class DatabaseBusyError extends Error {
  constructor(waitedMs: number) {
    super(`the catalog's writer stayed busy for ${waitedMs} ms`);
  }
}

/** The answer for a database that is busy or away. */
export function databaseUnavailable(error: unknown): ProblemException {
  const reason = error instanceof Error ? error.message : String(error);
  return new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'database-unavailable', `the catalog database is busy or unreachable (${reason.slice(0, 200)}); try again shortly`, {
    retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
  });
}
