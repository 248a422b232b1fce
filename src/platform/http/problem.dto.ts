/** One invalid field of a request. */
export class FieldErrorDto {
  /** @example "port" */
  field: string;
  /** @example "port must not be greater than 65535" */
  message: string;
}

/** RFC 9457 problem details (`application/problem+json`). */
export class ProblemDto {
  /** @example "/problems/validation" */
  type: string;
  /** @example "Validation failed" */
  title: string;
  /** @example 400 */
  status: number;
  /** @example "invalid request: port" */
  detail: string;
  errors?: FieldErrorDto[];
}
