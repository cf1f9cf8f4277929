import type { CanonicalEvent } from '../dialects/index.js';
import type { RouteConfig } from '../config/load.js';

export type TextMatcher = (text: string) => boolean;

/** ASCII case folding: types and source names are ASCII (types are normalized to `[a-z0-9_.]`). */
function fold(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

const ANY_ONE = 0x3f; // '?'

/** Whether `segment` (folded char codes, where `?` is any one character) matches `text` at `at`. */
function segmentAt(text: string, at: number, segment: readonly number[]): boolean {
  if (at + segment.length > text.length) return false;
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] !== ANY_ONE && segment[i] !== fold(text.charCodeAt(at + i))) return false;
  }
  return true;
}

/** The first position in [from, end - length] where `segment` matches, or -1. */
function findSegment(text: string, from: number, end: number, segment: readonly number[]): number {
  for (let at = from; at + segment.length <= end; at++) if (segmentAt(text, at, segment)) return at;
  return -1;
}

/**
 * `*` is any run of characters (dots included: `call.*` takes `call.missed`),
 * `?` any one; case-insensitive. Matched without regular expressions: the
 * pattern is split at its stars, the first piece must start the text, the last
 * must end it, and each piece between is taken at its leftmost place (which is
 * always right for globs). Time grows with text length times pattern length,
 * never exponentially, whatever the stars.
 */
export function compileGlob(glob: string): TextMatcher {
  const pieces = glob.split('*').map((piece) => Array.from(piece, (char) => fold(char.charCodeAt(0))));
  const first = pieces[0]!;
  if (pieces.length === 1) return (text) => text.length === first.length && segmentAt(text, 0, first);
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((piece) => piece.length > 0);
  return (text) => {
    if (text.length < first.length + last.length) return false;
    const end = text.length - last.length;
    if (!segmentAt(text, 0, first) || !segmentAt(text, end, last)) return false;
    let at = first.length;
    for (const piece of middle) {
      const found = findSegment(text, at, end, piece);
      if (found === -1) return false;
      at = found + piece.length;
    }
    return true;
  };
}

export type EventMatcher = (event: CanonicalEvent) => boolean;

/** The static part of a route (`match:`); pure. */
export function compileMatch(match: RouteConfig['match']): EventMatcher {
  const types = match.type?.map(compileGlob);
  const sources = match.source?.map(compileGlob);
  const dialects = match.dialect;
  const test = match.test;
  return (event) =>
    (types === undefined || types.some((matches) => matches(event.type))) &&
    // A source matches by its configured name (`main`) or the full CloudEvents source (`audian/main`).
    (sources === undefined || sources.some((matches) => matches(event.source) || matches(event.source.replace(/^audian\//, '')))) &&
    (dialects === undefined || dialects.includes(event.dialect)) &&
    (test === undefined || event.test === test);
}
