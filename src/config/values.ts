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

/**
 * A duration with its unit: `300s`, `5m`, `7d`, `250ms`. Parsed to
 * milliseconds. A bare number other than 0 is refused: it could be read as
 * seconds or as milliseconds, and either guess would be wrong for someone.
 */
export function duration() {
  return z.unknown().transform((value, ctx): number => {
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
  return z.union([z.number().int().positive(), z.string()]).transform((value, ctx): number => {
    const parsed = typeof value === 'number' ? value : bytes.parse(value);
    if (parsed === null || !Number.isFinite(parsed) || parsed <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (write e.g. 1mb or 512kb)` });
      return z.NEVER;
    }
    return parsed;
  });
}

export function integer(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
    z.number().int().min(min).max(max),
  );
}

export function boolean() {
  return z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean());
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
