import { createHash } from 'node:crypto';
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { nonEmpty, retriable, sent, wellFormed, type CanonicalEvent, type ConnectorDefinition, type SendResult } from '../../src/sdk/index.js';

const TYPE = 'transcript';

export const transcriptSchema = z.strictObject({
  type: z.literal(TYPE),
  /** One folder per source, one file per call inside it. */
  dir: nonEmpty(),
});

/**
 * Longest file name made from a value, in bytes: file systems allow 255, and
 * the connector appends at most `.json.tmp`.
 */
export const MAX_NAME_BYTES = 200;

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

type Write =
  | { readonly kind: 'append'; readonly folder: string; readonly path: string; readonly line: string }
  | { readonly kind: 'replace'; readonly folder: string; readonly path: string; readonly document: string }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Keeps transcripts per call: each live `transcript.segment` appends a line to
 * `<dir>/<source>/<call>.jsonl`; a `call.completed` carrying the full
 * transcript (seed 004 `call_ended`) writes `<dir>/<source>/<call>.json`.
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

    function plan(event: CanonicalEvent): Write {
      if (event.subject === undefined) return { kind: 'none', reason: 'the event concerns no call' };
      const folder = join(options.dir, fileNameOf(event.source.replace(/^audian\//, '')));
      const base = join(folder, fileNameOf(event.subject));
      if (event.type === 'transcript.segment') {
        const line = { event_id: event.id, time: event.time, speaker: event.data.speaker, text: event.data.text };
        return { kind: 'append', folder, path: `${base}.jsonl`, line: `${JSON.stringify(line)}\n` };
      }
      if (Array.isArray(event.data.transcript)) {
        const document = { call: event.data.call, event_id: event.id, time: event.time, transcript: event.data.transcript };
        return { kind: 'replace', folder, path: `${base}.json`, document: `${JSON.stringify(document, null, 2)}\n` };
      }
      return { kind: 'none', reason: `a ${event.type} event without data.transcript has nothing to write` };
    }

    async function write(event: CanonicalEvent): Promise<SendResult> {
      const planned = plan(event);
      if (planned.kind === 'none') return sent;
      try {
        await mkdir(planned.folder, { recursive: true });
        if (planned.kind === 'append') {
          await appendFile(planned.path, planned.line);
        } else {
          // Write then rename, so a reader never sees half a file.
          await writeFile(`${planned.path}.tmp`, planned.document);
          await rename(`${planned.path}.tmp`, planned.path);
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
        const planned = plan(event);
        if (planned.kind === 'none') return { outcome: 'skip', reason: planned.reason };
        return planned.kind === 'append'
          ? { outcome: 'send', target: planned.path, message: { path: planned.path, append: planned.line } }
          : { outcome: 'send', target: planned.path, message: { path: planned.path, replace_with: planned.document } };
      },
      async stop() {},
    };
  },
};
