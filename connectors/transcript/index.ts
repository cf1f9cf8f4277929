import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { memoryState, nonEmpty, retriable, sent, type CanonicalEvent, type ConnectorDefinition, type Delivery, type Preview, type SendResult } from '../../src/sdk/index.js';
import { probeDirectory } from '../directory-probe.js';
import { appendDurably, readSource, writeAtomically } from './files.js';
import { renderMarkdown } from './markdown.js';
import { createDocumentPlaces, type DocumentPlaces } from './names.js';
import { documentOf, planWork, type Finish } from './work.js';

export { fileNameOf, MAX_NAME_BYTES } from './names.js';

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

/** Writes the call's finished documents, unless a final transcript is there and `work` would replace it with live lines. */
async function finish(work: Finish, places: DocumentPlaces): Promise<void> {
  const { folder, base } = await places.settle(work.event);
  await mkdir(folder, { recursive: true });
  // The final transcript wins: a later summary of the call does not replace it with live lines.
  if (work.source !== 'final' && (await readSource(`${base}.json`)) === 'final') return;
  const document = await documentOf(work);
  // The Markdown first: once the JSON document is there, its rendering is too.
  await writeAtomically(folder, `${base}.md`, renderMarkdown(document));
  await writeAtomically(folder, `${base}.json`, `${JSON.stringify(document, null, 2)}\n`);
}

/** Does what `event` asks under `dir`; a failed write is retriable. */
async function write(event: CanonicalEvent, dir: string, places: DocumentPlaces): Promise<SendResult> {
  const work = planWork(event, dir);
  if (work.kind === 'none') return sent;
  try {
    if (work.kind === 'append') {
      await mkdir(work.folder, { recursive: true });
      await appendDurably(work.path, work.line);
    } else {
      await finish(work, places);
    }
    return sent;
  } catch (err) {
    // The file system refusing (permissions, a full disk) fails every event alike: the connector's, not this event's.
    const fromFileSystem = typeof (err as NodeJS.ErrnoException).code === 'string';
    return retriable((err as Error).message, undefined, fromFileSystem ? 'unreachable' : undefined);
  }
}

/** Writes a batch one event after the other, in its order. */
async function writeInCallOrder(batch: readonly Delivery[], writeOne: (event: CanonicalEvent) => Promise<SendResult>): Promise<SendResult[]> {
  const results: SendResult[] = [];
  /** Calls (source and call id) with a failed write in this batch: their later events wait, to keep their order. */
  const held = new Set<string>();
  for (const { event } of batch) {
    const call = event.subject === undefined ? undefined : `${event.source}\u0000${event.subject}`;
    if (call !== undefined && held.has(call)) {
      results.push(retriable('not written: an earlier event of this call failed in the same batch'));
      continue;
    }
    const result = await writeOne(event);
    if (!result.ok && call !== undefined) held.add(call);
    results.push(result);
  }
  return results;
}

/** What writing `event` under `dir` would do, writing nothing and fixing no date folder. */
async function previewOf(event: CanonicalEvent, dir: string, places: DocumentPlaces): Promise<Preview> {
  const work = planWork(event, dir);
  if (work.kind === 'none') return { outcome: 'skip', reason: work.reason };
  if (work.kind === 'append') return { outcome: 'send', target: work.path, message: { path: work.path, append: work.line } };
  const { base } = await places.peek(event);
  const document = await documentOf(work);
  return {
    outcome: 'send',
    target: `${base}.json`,
    message: { path: `${base}.json`, replace_with: `${JSON.stringify(document, null, 2)}\n`, markdown_path: `${base}.md`, markdown: renderMarkdown(document) },
  };
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
    const places = createDocumentPlaces(options, context.state ?? memoryState(context.now), context.now);
    return {
      name,
      async start() {
        await mkdir(options.dir, { recursive: true });
        logger.debug({ dir: options.dir }, 'transcript connector ready');
      },
      send: (batch) => writeInCallOrder(batch, (event) => write(event, options.dir, places)),
      probe: () => probeDirectory(options.dir),
      preview: (event) => previewOf(event, options.dir, places),
      async stop() {},
    };
  },
};
