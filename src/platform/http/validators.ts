import { isFQDN, isIP, registerDecorator, ValidateIf, ValidationArguments, ValidationOptions } from 'class-validator';
import { Transform } from 'class-transformer';

/**
 * The field may be left out, but `null` is validated like any other value (and
 * so refused by the type check). `@IsOptional()` skips `null` too, which lets
 * `{ "port": null }` through to code that expects a number.
 */
export const OptionalNotNull = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** An IP address or a DNS host name (RFC 1123; single labels such as `gpu-node-01` allowed). */
export function IsHost(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isHost',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an IP address or a host name', ...options },
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          value.length <= 253 &&
          (isIP(value) || isFQDN(value, { require_tld: false, allow_underscores: false })),
      },
    });
}

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;
const MAX_LABELS = 64;
const MAX_LABEL_VALUE = 256;

function labelMapProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be an object of string values';
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) return `must have at most ${MAX_LABELS} labels`;
  for (const [key, label] of entries) {
    if (!LABEL_KEY.test(key)) return `key "${key.slice(0, 80)}" must be 1-63 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit`;
    if (typeof label !== 'string') return `value of "${key}" must be a string`;
    if (label.length > MAX_LABEL_VALUE || /[\u0000-\u001f]/.test(label)) return `value of "${key}" must be at most ${MAX_LABEL_VALUE} printable characters`;
  }
  return null;
}

/** A flat `{ key: "value" }` map of labels, as hives carry and placements match. */
export function IsLabelMap(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isLabelMap',
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => labelMapProblem(value) === null,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} ${labelMapProblem(args?.value)}`,
      },
    });
}

/** Refuses a value when `other` is set too: two ways to say one thing. */
export function ExclusiveWith(other: string, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'exclusiveWith',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other],
      options: { message: `$property and ${other} cannot both be set`, ...options },
      validator: {
        validate: (value: unknown, args: ValidationArguments) =>
          value === undefined || (args.object as Record<string, unknown>)[other] === undefined,
      },
    });
}

/** Query strings arrive as text: turn digit strings into integers and leave anything else for the validator to refuse. */
export const QueryInt = () =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value));
