import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { wellFormed, type CanonicalEvent, type ConnectorState } from '../../src/sdk/index.js';

/**
 * Longest file name made from a value, in bytes: file systems allow 255, and
 * the connector appends at most `.json`, `.jsonl` or `.md` and a temporary
 * suffix of 22 bytes (`.<16 hex digits>.tmp`) while writing.
 */
export const MAX_NAME_BYTES = 200;

/** How long the connector remembers the date folder of a call's documents (`naming: date`). */
const DATE_TTL_MS = 30 * 24 * 3600_000;

/**
 * A call id or source name as a safe file name: nothing that can climb out of
 * the folder, and never longer than MAX_NAME_BYTES. A longer one (a call id
 * may legitimately be long) keeps its start and ends in `~` and a hash of the
 * whole value; `~` is escaped in every other name, so a shortened name cannot
 * equal another value's name.
 */
export function fileNameOf(value: string): string {
  const escaped = escapeName(value);
  if (escaped.length <= MAX_NAME_BYTES) return escaped;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 32);
  // Whole characters only, so the start never ends in half an escape.
  let start = '';
  for (const char of value) {
    const piece = escapeName(char);
    if (start.length + piece.length > MAX_NAME_BYTES - hash.length - 1) break;
    start += piece;
  }
  return `${start}~${hash}`;
}

function escapeName(value: string): string {
  return encodeURIComponent(wellFormed(value)).replace(/\./g, '%2E').replace(/\*/g, '%2A').replace(/~/g, '%7E');
}

/** The folder of the event's source under `dir`: `<dir>/<source>`. */
export function sourceFolder(dir: string, event: CanonicalEvent): string {
  return join(dir, fileNameOf(event.source.replace(/^audian\//, '')));
}

function utcDate(value: unknown): string | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 10);
}

/** Where a call's finished documents go: their folder, and their path without extension. */
export interface DocumentPlace {
  readonly folder: string;
  readonly base: string;
}

export interface DocumentPlaces {
  /** The place of the call's documents; with `naming: date`, the first one fixes the call's date folder for the later ones. */
  settle(event: CanonicalEvent): Promise<DocumentPlace>;
  /** The same, fixing nothing (a preview). */
  peek(event: CanonicalEvent): Promise<DocumentPlace>;
}

/**
 * Places a call's documents by `naming`: `<dir>/<source>/<call>` or
 * `<dir>/<source>/<YYYY-MM-DD>/<call>`, the UTC date the call ended. The date
 * is kept in the connector's state, so a later document of the call (a
 * summary after the final transcript) replaces the first one, not a copy in
 * another folder.
 */
export function createDocumentPlaces(options: { readonly dir: string; readonly naming: 'call_id' | 'date' }, state: ConnectorState, now: () => number): DocumentPlaces {
  async function place(event: CanonicalEvent, remember: boolean): Promise<DocumentPlace> {
    const call = fileNameOf(event.subject as string);
    let folder = sourceFolder(options.dir, event);
    if (options.naming === 'date') {
      const key = `date\u0000${event.source}\u0000${event.subject}`;
      let date = await state.get(key);
      if (date === undefined) {
        date = utcDate(event.data.ended_at) ?? utcDate(event.time) ?? '1970-01-01';
        if (remember) await state.set(key, date, now() + DATE_TTL_MS);
      }
      folder = join(folder, date);
    }
    return { folder, base: join(folder, call) };
  }
  return {
    settle: (event) => place(event, true),
    peek: (event) => place(event, false),
  };
}
