import { HttpException, HttpStatus } from '@nestjs/common';

export interface FieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details, as every 4xx/5xx body of the queen is shaped. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * A problem member that writes its own JSON text: a list of ten thousand
 * entries is faster written out once than built as an object and then
 * serialised. `toJSON` still gives the plain value to any other serialiser.
 */
export interface JsonText {
  toJSON(): unknown;
  toJSONText(): string;
}

function isJsonText(value: unknown): value is JsonText {
  return typeof value === 'object' && value !== null && typeof (value as JsonText).toJSONText === 'function';
}

/** The problem body as sent: `JSON.stringify`, except that members that are {@link JsonText} write themselves. */
export function serializeProblem(body: ProblemDetails): string {
  const members: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    members.push(`${JSON.stringify(key)}:${isJsonText(value) ? value.toJSONText() : JSON.stringify(value)}`);
  }
  return `{${members.join(',')}}`;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** Problem `type` URIs are relative references naming the kind of failure. */
export function problemType(slug: string): string {
  return `/problems/${slug}`;
}

/**
 * An HTTP error carrying a full problem body. Thrown by services and
 * controllers; the global filter writes it out unchanged. `retryAfterSeconds`
 * becomes a `Retry-After` header (503 and 429 answers).
 */
export class ProblemException extends HttpException {
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: number,
    slug: string,
    detail: string,
    {
      title,
      retryAfterSeconds,
      ...extensions
    }: { title?: string; retryAfterSeconds?: number; errors?: FieldError[]; [extension: string]: unknown } = {},
  ) {
    const body: ProblemDetails = {
      type: problemType(slug),
      title: title ?? statusTitle(status),
      status,
      detail,
      ...extensions,
    };
    super(body, status);
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get problem(): ProblemDetails {
    return this.getResponse() as ProblemDetails;
  }
}

export const notFound = (what: string, id: string) =>
  new ProblemException(HttpStatus.NOT_FOUND, 'not-found', `${what} "${id}" does not exist`);
