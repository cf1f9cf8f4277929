import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  finalTranscriptOf,
  memoryState,
  nonEmpty,
  retriable,
  segmentOf,
  sent,
  wellFormed,
  type CanonicalEvent,
  type ConnectorDefinition,
  type SendResult,
  type TranscriptSegment,
} from '../../src/sdk/index.js';
import { renderMarkdown, type TranscriptDocument } from './markdown.js';

const TYPE = 'transcript';

export const transcriptSchema = z.strictObject({
  type: z.literal(TYPE),
  /** One folder per source, one file per call inside it. */
  dir: nonEmpty(),
  /**
   * Where the finished documents go: `call_id` puts them at
   * `<dir>/<source>/<call id>.json|.md`; `date` at
   * `<dir>/<source>/<YYYY-MM-DD>/<call id>.json|.md`, the UTC date the call ended.
   */
  naming: z.enum(['call_id', 'date']).default('call_id'),
});

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

/** What one event asks of the connector. */
type Work =
  | { readonly kind: 'append'; readonly folder: string; readonly path: string; readonly line: string }
  /** A finished document: `segments` given (final transcript, transcript.completed) or read from the live lines. */
  | {
      readonly kind: 'finish';
      readonly event: CanonicalEvent;
      readonly live: string;
      readonly source: 'final' | 'live';
      readonly segments?: readonly TranscriptSegment[];
    }
  | { readonly kind: 'none'; readonly reason: string };

/** One live line as stored in `<call>.jsonl`. */
interface LiveLine {
  readonly event_id: string;
  readonly time: string | null;
  readonly speaker: string | null;
  readonly text: string;
}

/** Opens `path`, hands the file to `use`, and closes it whatever happens. */
async function withFile(path: string, flags: string, use: (file: FileHandle) => Promise<void>): Promise<void> {
  const file = await open(path, flags);
  try {
    await use(file);
  } finally {
    await file.close();
  }
}

/** Writes `text` to `path` so that a reader sees the old file or the new one, never half of one, even after a crash. */
async function writeAtomically(folder: string, path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    await withFile(temporary, 'wx', async (file) => {
      await file.writeFile(text);
      await file.sync();
    });
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
  // The rename itself is durable once the folder is synced.
  await withFile(folder, 'r', (directory) => directory.sync());
}

function appendDurably(path: string, line: string): Promise<void> {
  return withFile(path, 'a', async (file) => {
    await file.appendFile(line);
    await file.sync();
  });
}

/** The live lines of a call in time order, each once (a resent segment may have been appended twice). */
async function readLive(path: string): Promise<TranscriptSegment[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const seen = new Set<string>();
  const lines: LiveLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: LiveLine;
    try {
      line = JSON.parse(raw) as LiveLine;
    } catch {
      continue; // a line cut short by a power loss before its fsync
    }
    if (seen.has(line.event_id)) continue;
    seen.add(line.event_id);
    lines.push(line);
  }
  return lines
    .map((line, index) => ({ line, index }))
    .sort((a, b) => ((a.line.time ?? '') < (b.line.time ?? '') ? -1 : (a.line.time ?? '') > (b.line.time ?? '') ? 1 : a.index - b.index))
    .map(({ line }) => ({ speaker: line.speaker ?? null, text: line.text, time: line.time ?? null }));
}

async function readSource(path: string): Promise<TranscriptDocument['transcript_source'] | undefined> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as TranscriptDocument).transcript_source;
  } catch {
    return undefined;
  }
}

function utcDate(value: unknown): string | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 10);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Keeps transcripts per call. Each live `transcript.segment` appends a line
 * to `<dir>/<source>/<call>.jsonl` (fsynced). When the call ends the finished
 * transcript is written as JSON and as Markdown, each atomically: from a
 * `call.completed` carrying the full transcript (seed 004 `call_ended`), else
 * from the call's `call.summary` (or `transcript.completed`) with the live
 * lines. The final transcript wins: once written, live lines never replace it.
 * Other events have nothing to write and count as delivered.
 */
export const transcriptConnector: ConnectorDefinition<typeof transcriptSchema> = {
  type: TYPE,
  schema: transcriptSchema,
  batchSize: 100,
  // Written one after the other, in the batch's order (see `send`).
  maxPerCall: 100,
  create(name, options, context) {
    const logger = context.logger.child({ connector: name });
    const state = context.state ?? memoryState(context.now);

    function folderOf(event: CanonicalEvent): string {
      return join(options.dir, fileNameOf(event.source.replace(/^audian\//, '')));
    }

    function plan(event: CanonicalEvent): Work {
      if (event.subject === undefined) return { kind: 'none', reason: 'the event concerns no call' };
      const folder = folderOf(event);
      const live = join(folder, `${fileNameOf(event.subject)}.jsonl`);
      if (event.type === 'transcript.segment') {
        const segment = segmentOf(event);
        const line: LiveLine = { event_id: event.id, time: segment.time, speaker: segment.speaker, text: segment.text };
        return { kind: 'append', folder, path: live, line: `${JSON.stringify(line)}\n` };
      }
      const final = finalTranscriptOf(event);
      if (final) return { kind: 'finish', event, live, source: 'final', segments: final };
      if (event.type === 'call.summary') return { kind: 'finish', event, live, source: 'live' };
      if (event.type === 'transcript.completed' && Array.isArray(event.data.segments)) {
        return { kind: 'finish', event, live, source: event.data.transcript_source === 'final' ? 'final' : 'live', segments: event.data.segments as TranscriptSegment[] };
      }
      return { kind: 'none', reason: `a ${event.type} event without a full transcript has nothing to write` };
    }

    /** Where the call's documents go, without extension; with `naming: date`, the folder of the call's first document. */
    async function documentBase(event: CanonicalEvent, remember: boolean): Promise<{ folder: string; base: string }> {
      const call = fileNameOf(event.subject as string);
      let folder = folderOf(event);
      if (options.naming === 'date') {
        const key = `date\u0000${event.source}\u0000${event.subject}`;
        let date = await state.get(key);
        if (date === undefined) {
          date = utcDate(event.data.ended_at) ?? utcDate(event.time) ?? '1970-01-01';
          if (remember) await state.set(key, date, context.now() + DATE_TTL_MS);
        }
        folder = join(folder, date);
      }
      return { folder, base: join(folder, call) };
    }

    async function documentOf(work: Extract<Work, { kind: 'finish' }>): Promise<TranscriptDocument> {
      const { event } = work;
      const segments = work.segments ?? (await readLive(work.live));
      const call = event.data.call;
      return {
        call_id: event.subject as string,
        source: event.source,
        transcript_source: segments.length === 0 ? 'none' : work.source,
        call: {
          ...(call?.direction ? { direction: call.direction } : {}),
          ...(call?.from ? { from: call.from } : {}),
          ...(call?.from_name ? { from_name: call.from_name } : {}),
          ...(call?.to ? { to: call.to } : {}),
        },
        started_at: text(event.data.started_at) ?? null,
        ended_at: text(event.data.ended_at) ?? (event.type === 'call.completed' ? event.time : null),
        event_id: event.id,
        segments: segments.map((segment) => ({ speaker: segment.speaker ?? null, text: String(segment.text ?? ''), time: segment.time ?? null })),
      };
    }

    async function finish(work: Extract<Work, { kind: 'finish' }>): Promise<void> {
      const { folder, base } = await documentBase(work.event, true);
      await mkdir(folder, { recursive: true });
      // The final transcript wins: a later summary of the call does not replace it with live lines.
      if (work.source !== 'final' && (await readSource(`${base}.json`)) === 'final') return;
      const document = await documentOf(work);
      // The Markdown first: once the JSON document is there, its rendering is too.
      await writeAtomically(folder, `${base}.md`, renderMarkdown(document));
      await writeAtomically(folder, `${base}.json`, `${JSON.stringify(document, null, 2)}\n`);
    }

    async function write(event: CanonicalEvent): Promise<SendResult> {
      const work = plan(event);
      if (work.kind === 'none') return sent;
      try {
        if (work.kind === 'append') {
          await mkdir(work.folder, { recursive: true });
          await appendDurably(work.path, work.line);
        } else {
          await finish(work);
        }
        return sent;
      } catch (err) {
        return retriable((err as Error).message);
      }
    }

    return {
      name,
      async start() {
        await mkdir(options.dir, { recursive: true });
        logger.debug({ dir: options.dir }, 'transcript connector ready');
      },
      async send(batch) {
        const results: SendResult[] = [];
        /** Calls (source and call id) with a failed write in this batch: their later events wait, to keep their order. */
        const held = new Set<string>();
        for (const { event } of batch) {
          const call = event.subject === undefined ? undefined : `${event.source}\u0000${event.subject}`;
          if (call !== undefined && held.has(call)) {
            results.push(retriable('not written: an earlier event of this call failed in the same batch'));
            continue;
          }
          const result = await write(event);
          if (!result.ok && call !== undefined) held.add(call);
          results.push(result);
        }
        return results;
      },
      async preview(event) {
        const work = plan(event);
        if (work.kind === 'none') return { outcome: 'skip', reason: work.reason };
        if (work.kind === 'append') return { outcome: 'send', target: work.path, message: { path: work.path, append: work.line } };
        const { base } = await documentBase(event, false);
        const document = await documentOf(work);
        return {
          outcome: 'send',
          target: `${base}.json`,
          message: { path: `${base}.json`, replace_with: `${JSON.stringify(document, null, 2)}\n`, markdown_path: `${base}.md`, markdown: renderMarkdown(document) },
        };
      },
      async stop() {},
    };
  },
};
