import {
  ArgumentMetadata,
  HttpStatus,
  Injectable,
  PipeTransform,
  ValidationError,
  ValidationPipe,
  ValidationPipeOptions,
} from '@nestjs/common';
import { FieldError, ProblemException } from './problem';

/** Constraints that say what kind of value a field takes; when one fails, the others say nothing useful. */
const TYPE_CONSTRAINTS = [
  'whitelistValidation',
  'isDefined',
  'isObject',
  'nestedValidation',
  'isString',
  'isInt',
  'isNumber',
  'isBoolean',
  'isArray',
];

/**
 * The messages worth showing for one field. class-validator runs a field's
 * decorators bottom-up, so "first failure" would report `"7835"` as "must not
 * be greater than 65535": a failed type check is reported alone instead.
 */
export function constraintMessages(constraints: Record<string, string> | undefined): string[] {
  if (!constraints) return [];
  const typeCheck = TYPE_CONSTRAINTS.find((name) => name in constraints);
  return typeCheck ? [constraints[typeCheck]] : Object.values(constraints);
}

/** Flattens nested class-validator errors into `{ field: 'ssh.port', message }` entries. */
export function toFieldErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of constraintMessages(error.constraints)) {
      // class-validator's whitelist message names the property already.
      out.push({ field, message: message.replace(/^property \S+ should not exist$/, 'is not a known field') });
    }
    if (error.children?.length) out.push(...toFieldErrors(error.children, field));
  }
  return out;
}

export function validationProblem(errors: FieldError[]): ProblemException {
  const fields = [...new Set(errors.map((e) => e.field))];
  return new ProblemException(
    HttpStatus.BAD_REQUEST,
    'validation',
    `invalid request: ${fields.join(', ')}`,
    { title: 'Validation failed', errors },
  );
}

/**
 * Keys a JavaScript object cannot hold as plain data: JSON.parse keeps them,
 * but copying into objects drops or misreads them (labels `{"constructor": "x"}`
 * would be stored as `{}` and match every hive). Refused, never dropped.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Where a parsed body uses a reserved key, as field errors. Depth is bounded by the body parser. */
export function reservedKeyErrors(value: unknown, path = ''): FieldError[] {
  if (typeof value !== 'object' || value === null) return [];
  const errors: FieldError[] = [];
  for (const key of Object.keys(value)) {
    const field = path ? `${path}.${key}` : key;
    if (RESERVED_KEYS.has(key)) errors.push({ field, message: `"${key}" is a reserved name and cannot be used as a key` });
    else errors.push(...reservedKeyErrors((value as Record<string, unknown>)[key], field));
  }
  return errors;
}

/** The options of the one validation pipe: strict types, every field's errors collected, problem JSON. */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  transform: true,
  whitelist: true,
  forbidUnknownValues: true,
  // All of a field's constraints run; constraintMessages picks what to report.
  stopAtFirstError: false,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => validationProblem(toFieldErrors(errors)),
};

/**
 * The one validation pipe of the app, registered as APP_PIPE. Types are strict
 * (no implicit conversion of "7835" to 7835), failures become problem JSON, and
 * unknown fields and reserved keys are refused. A body declared as a plain
 * object (the heartbeat, which checks its own with a compiled schema) is only
 * checked to be an object.
 */
@Injectable()
export class QueenValidationPipe implements PipeTransform {
  private readonly pipe = new ValidationPipe({ ...VALIDATION_OPTIONS, forbidNonWhitelisted: true });

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new ProblemException(
        HttpStatus.BAD_REQUEST,
        'body-not-object',
        'request body must be a JSON object sent with Content-Type: application/json',
      );
    }
    if (metadata.type === 'body' && metadata.metatype !== Object) {
      const reserved = reservedKeyErrors(value);
      if (reserved.length > 0) throw validationProblem(reserved);
    }
    return this.pipe.transform(value, metadata);
  }
}
