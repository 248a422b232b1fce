import type { Response } from 'supertest';

/** An RFC 9457 problem body as the queen sends it. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; message: string }[];
  rejections?: Record<string, string>;
  tried?: Record<string, { status: number | null; reason: string; uncertain: boolean }>;
  [extension: string]: unknown;
}

/**
 * Asserts an RFC 9457 problem response and returns its body: the status, the
 * media type, the four members, and (when `fields` is given) that
 * `errors[].field` names each of them, and every entry has a message.
 */
export function expectProblem(res: Response, status: number, fields?: string[]): ProblemBody {
  if (res.status !== status) throw new Error(`expected a ${status} problem, got ${res.status} ${res.text.slice(0, 500)}`);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  const body = JSON.parse(res.text) as ProblemBody;
  expect(body).toEqual(
    expect.objectContaining({
      type: expect.stringMatching(/^\/problems\/[a-z-]+$/),
      title: expect.any(String),
      status,
      detail: expect.any(String),
    }),
  );
  expect(body.title).not.toBe('');
  expect(body.detail).not.toBe('');
  if (fields) {
    const errors = body.errors;
    expect(Array.isArray(errors)).toBe(true);
    for (const error of errors!) expect(error).toEqual({ field: expect.any(String), message: expect.stringMatching(/\S/) });
    expect(errors!.map((error) => error.field)).toEqual(expect.arrayContaining(fields));
  }
  return body;
}
