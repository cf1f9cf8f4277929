import jsonata from 'jsonata';
import bytes from 'bytes';
import ms from 'ms';
import { z } from 'zod';
import { compileTemplate } from '../template.js';
import { readRegularFileSync } from './files.js';

/**
 * Value types shared by the main schema and each connector's schema. Values
 * may come from `${VAR}` interpolation, so numbers and booleans also accept
 * their string forms.
 */

/** A JSON Schema object, as config.schema.json holds it. */
export type JsonSchemaObject = Readonly<Record<string, unknown>>;

/**
 * How a value may be written in the file where its zod type does not say so:
 * a duration's text, the string forms a preprocess accepts. json-schema.ts
 * reads it to write config.schema.json; parsing never does.
 */
export interface WrittenForm {
  /** The value as written, in place of what its zod type gives; kept once under this name where given. */
  readonly written?: JsonSchemaObject;
  readonly name?: string;
  /** Forms accepted beside what its zod type gives, which a preprocess turns into it. */
  readonly alsoWritten?: readonly JsonSchemaObject[];
}

export const writtenForms = z.registry<WrittenForm>();

/** A regular expression source matching `words` in any letter case (JSON Schema patterns take no flags). */
function caseless(words: readonly string[]): string {
  const letters = (word: string) => [...word].map((c) => (/[a-z]/.test(c) ? `[${c}${c.toUpperCase()}]` : c)).join('');
  return `(${words.map(letters).join('|')})`;
}

/** The units `ms` reads, longest first so that a pattern tries `ms` before `m`. */
const DURATION_UNITS = ['milliseconds', 'millisecond', 'msecs', 'msec', 'ms', 'seconds', 'second', 'secs', 'sec', 's', 'minutes', 'minute', 'mins', 'min', 'm', 'hours', 'hour', 'hrs', 'hr', 'h', 'days', 'day', 'd', 'weeks', 'week', 'w', 'years', 'year', 'yrs', 'yr', 'y'];
const DURATION_TEXT = `^\\s*(0+(\\.0+)?|\\d*\\.?\\d+ *${caseless(DURATION_UNITS)})\\s*$`;
const SIZE_TEXT = `^\\s*\\+?\\d+(\\.\\d+)? *${caseless(['kb', 'mb', 'gb', 'tb', 'pb'])}?\\s*$`;

/**
 * A duration with its unit: `300s`, `5m`, `7d`, `250ms`. Parsed to
 * milliseconds. A bare number other than 0 is refused: it could be read as
 * seconds or as milliseconds, and either guess would be wrong for someone.
 */
export function duration() {
  const written = { anyOf: [{ const: 0 }, { type: 'string', pattern: DURATION_TEXT, description: 'a duration with its unit: 250ms, 30s, 5m, 7d' }] };
  return z.unknown().register(writtenForms, { written, name: 'duration' }).transform((value, ctx): number => {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
    // Zero is zero in every unit.
    if (text !== undefined && /^0+(\.0+)?$/.test(text)) return 0;
    if (text !== undefined && /^\d+(\.\d+)?$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: `${text} has no unit: write it with one, e.g. ${text}s, 5m, 250ms or 7d`, params: { code: 'CONFIG_BAD_VALUE' } });
      return z.NEVER;
    }
    const parsed = text === undefined ? undefined : ms(text as ms.StringValue);
    if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${value === undefined ? 'required' : `"${String(value)}" is not a duration`} (write e.g. 300s, 5m, 7d or 250ms)`,
        params: { code: value === undefined ? 'CONFIG_MISSING_KEY' : 'CONFIG_BAD_VALUE' },
      });
      return z.NEVER;
    }
    return parsed;
  });
}

/** A size: `1mb`, `512kb`, or a number of bytes. */
export function byteSize() {
  const written = { anyOf: [{ type: 'integer', exclusiveMinimum: 0 }, { type: 'string', pattern: SIZE_TEXT, description: 'a size: bytes, or 512kb, 1mb' }] };
  return z.union([z.number().int().positive(), z.string()]).register(writtenForms, { written, name: 'size' }).transform((value, ctx): number => {
    const parsed = typeof value === 'number' ? value : bytes.parse(value);
    if (parsed === null || !Number.isFinite(parsed) || parsed <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (write e.g. 1mb or 512kb)` });
      return z.NEVER;
    }
    return parsed;
  });
}

export function integer(min: number, max: number) {
  return z
    .preprocess(
      (value) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
      z.number().int().min(min).max(max),
    )
    .register(writtenForms, { alsoWritten: [{ type: 'string', pattern: '^\\s*-?\\d+\\s*$' }] });
}

export function boolean() {
  return z
    .preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean())
    .register(writtenForms, { alsoWritten: [{ enum: ['true', 'false'] }] });
}

export function nonEmpty() {
  return z.string().min(1, 'must not be empty');
}

/**
 * PEM text given inline (e.g. from `${KAFKA_CA}` or `${file:/run/secrets/ca.pem}`),
 * or the path of a PEM file, read at load.
 */
export function pem() {
  return nonEmpty().transform((value, ctx): string => {
    if (value.includes('-----BEGIN ')) return value;
    // A FIFO or a device at this path would hold the load forever: only a regular file is read.
    const read = readRegularFileSync(value);
    if ('content' in read) return read.content;
    ctx.addIssue({ code: 'custom', message: `PEM file ${value}: ${read.reason}` });
    return z.NEVER;
  });
}

/** A `{placeholder}` template over the canonical event, checked at load. */
export function template() {
  return nonEmpty().superRefine((value, ctx) => {
    try {
      compileTemplate(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `bad template: ${(err as Error).message}` });
    }
  });
}

/** A JSONata expression (route `when`, http `body`), compiled at load so a syntax error is a config error. */
export function jsonataExpression() {
  return nonEmpty().superRefine((value, ctx) => {
    try {
      jsonata(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a JSONata expression: ${(err as Error).message}` });
    }
  });
}

/** One name or a list of them. */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item).min(1)]).transform((value) => (Array.isArray(value) ? value : [value]) as z.output<T>[]);
}
