import type { CanonicalEvent } from './dialects/index.js';

/**
 * `{attribute}` / `{data.field}` placeholders over the canonical event
 * (docs/connectors/README.md, "What every connector offers"), e.g. `audian.{type}` or
 * `https://crm.example/calls/{subject}`. `{{` and `}}` stand for literal braces.
 */
export interface Template {
  readonly source: string;
  readonly placeholders: readonly string[];
  /** Literal text and placeholders in order, `{{`/`}}` already turned into braces. */
  readonly pieces: readonly TemplatePiece[];
  /** Renders, or reports the placeholders that had no value. */
  render(event: CanonicalEvent): { ok: true; value: string } | { ok: false; missing: string[] };
}

export type TemplatePiece = string | { readonly path: string };

const PART = /\{\{|\}\}|\{([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\}|([{}])/g;

export function lookupPath(root: unknown, path: string): unknown {
  let value: unknown = root;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A placeholder's text: strings, numbers and booleans; undefined where the event has no such value (absent, null, an object). */
export function placeholderValue(event: unknown, path: string): string | undefined {
  const value = lookupPath(event, path);
  return value === undefined || value === null || typeof value === 'object' ? undefined : String(value);
}

/**
 * The string with each lone surrogate (JSON allows `"\ud800"`) replaced by
 * U+FFFD, as URL parsing does; `encodeURIComponent` throws on them.
 */
export function wellFormed(value: string): string {
  return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Throws on a malformed template; `encode` escapes each value (e.g. encodeURIComponent in URLs). */
export function compileTemplate(source: string, encode: (value: string) => string = (value) => value): Template {
  const pieces: TemplatePiece[] = [];
  let last = 0;
  for (const match of source.matchAll(PART)) {
    if (match[2] !== undefined) {
      throw new Error(`unbalanced "${match[2]}" at position ${match.index}: placeholders look like {type} or {data.call_id}`);
    }
    pieces.push(source.slice(last, match.index));
    if (match[1] !== undefined) pieces.push({ path: match[1] });
    else pieces.push(match[0] === '{{' ? '{' : '}');
    last = match.index + match[0].length;
  }
  pieces.push(source.slice(last));
  const placeholders = pieces.filter((piece) => typeof piece !== 'string').map((piece) => piece.path);
  return {
    source,
    placeholders,
    pieces,
    render(event) {
      const missing: string[] = [];
      let out = '';
      for (const piece of pieces) {
        if (typeof piece === 'string') {
          out += piece;
          continue;
        }
        const value = placeholderValue(event, piece.path);
        if (value === undefined) missing.push(piece.path);
        else out += encode(value);
      }
      return missing.length > 0 ? { ok: false, missing } : { ok: true, value: out };
    },
  };
}
