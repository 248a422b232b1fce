import { createHash } from 'node:crypto';
import { HttpStatus } from '@nestjs/common';
import { ProblemException } from './problem';

/** A strong entity tag (RFC 9110 §8.8.3) for a resource whose state is `parts`: quoted, 22 base64url characters of SHA-256. */
export function strongEtag(parts: unknown[]): string {
  return `"${createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 22)}"`;
}

/**
 * Whether `If-Match` lets a change of the resource with tag `current` go ahead (RFC 9110 §13.1.1):
 * absent, `*`, or a list holding `current` under strong comparison (weak tags never match).
 */
export function ifMatchAllows(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  return (trimmed.match(/(W\/)?"[^"]*"/g) ?? []).some((tag) => !tag.startsWith('W/') && tag === current);
}

/** The 412 for a change whose If-Match names another state of the resource. */
export function preconditionFailed(what: string, id: string, current: string): ProblemException {
  return new ProblemException(
    HttpStatus.PRECONDITION_FAILED,
    'precondition-failed',
    `${what} "${id}" has changed since it was read (its ETag is now ${current}); read it again and retry`,
  );
}
