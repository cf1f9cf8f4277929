import type { CanonicalEvent } from '../dialects/index.js';
import type { RouteConfig } from '../config/load.js';

export type TextMatcher = (text: string) => boolean;

/** Whether `segment` (where `?` is any one character) matches `text` at `at`. */
function segmentAt(text: string, at: number, segment: string): boolean {
  if (at + segment.length > text.length) return false;
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] !== '?' && segment[i] !== text[at + i]) return false;
  }
  return true;
}

/** The first position at or after `from` where `segment` matches, or -1. */
function findSegment(text: string, from: number, segment: string): number {
  if (!segment.includes('?')) return text.indexOf(segment, from);
  for (let at = from; at + segment.length <= text.length; at++) if (segmentAt(text, at, segment)) return at;
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
  const pieces = glob.toLowerCase().split('*');
  const first = pieces[0]!;
  if (pieces.length === 1) return (text) => text.length === first.length && segmentAt(text.toLowerCase(), 0, first);
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((piece) => piece.length > 0);
  return (input) => {
    const text = input.toLowerCase();
    if (text.length < first.length + last.length) return false;
    if (!segmentAt(text, 0, first) || !segmentAt(text, text.length - last.length, last)) return false;
    let at = first.length;
    const end = text.length - last.length;
    for (const piece of middle) {
      const found = findSegment(text, at, piece);
      if (found === -1 || found + piece.length > end) return false;
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
