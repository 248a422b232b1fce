import type { Response } from 'supertest';

/**
 * Asserts an RFC 9457 problem response: the status, the media type, the four
 * members, and (when `fields` is given) that `errors[].field` names each of
 * them, and every entry has a message.
 */
export function expectProblem(res: Response, status: number, fields?: string[]): void {
  if (res.status !== status) throw new Error(`expected a ${status} problem, got ${res.status} ${res.text.slice(0, 500)}`);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  expect(res.body).toEqual(
    expect.objectContaining({
      type: expect.stringMatching(/^\/problems\/[a-z-]+$/),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    }),
  );
  expect(res.body.title).not.toBe('');
  expect(res.body.detail).not.toBe('');
  if (fields) {
    const errors = res.body.errors as { field: unknown; message: unknown }[] | undefined;
    expect(Array.isArray(errors)).toBe(true);
    for (const error of errors!) expect(error).toEqual({ field: expect.any(String), message: expect.stringMatching(/\S/) });
    expect(errors!.map((error) => error.field)).toEqual(expect.arrayContaining(fields));
  }
}
