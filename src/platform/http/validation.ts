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

const LENIENT_BODY = Symbol('queen:lenient-body');

/**
 * Marks a DTO whose unknown fields are dropped rather than refused: heartbeats
 * come from agents that may be newer than the queen.
 */
export function AcceptsUnknownFields(): ClassDecorator {
  return (target) => Reflect.defineMetadata(LENIENT_BODY, true, target);
}

const baseOptions: ValidationPipeOptions = {
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
 * unknown fields are refused unless the DTO is marked {@link AcceptsUnknownFields}.
 */
@Injectable()
export class QueenValidationPipe implements PipeTransform {
  private readonly strict = new ValidationPipe({ ...baseOptions, forbidNonWhitelisted: true });
  private readonly lenient = new ValidationPipe({ ...baseOptions, forbidNonWhitelisted: false });

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new ProblemException(
        HttpStatus.BAD_REQUEST,
        'body-not-object',
        'request body must be a JSON object sent with Content-Type: application/json',
      );
    }
    const lenient = metadata.metatype && Reflect.getMetadata(LENIENT_BODY, metadata.metatype);
    return (lenient ? this.lenient : this.strict).transform(value, metadata);
  }
}
