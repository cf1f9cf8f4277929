import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { nonEmpty } from '../../src/config/values.js';
import { retriable, sent, type Connector, type ConnectorDefinition, type Delivery, type SendResult } from '../types.js';

export const transcriptSchema = z.strictObject({
  type: z.literal('transcript'),
  /** One folder per source, one file per call inside it. */
  dir: nonEmpty(),
});

/** A call id or source name as a safe file name: nothing that can climb out of the folder. */
export function fileNameOf(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

/**
 * Keeps transcripts per call: each live `transcript.segment` appends a line to
 * `<dir>/<source>/<call>.jsonl`; a `call.completed` carrying the full
 * transcript (seed 004 `call_ended`) writes `<dir>/<source>/<call>.json`.
 * Other events have nothing to write and count as delivered.
 */
export const transcriptConnector: ConnectorDefinition<typeof transcriptSchema> = {
  schema: transcriptSchema,
  batchSize: 100,
  create(name, options, context): Connector {
    const logger = context.logger.child({ connector: name });

    async function write(delivery: Delivery): Promise<SendResult> {
      const { event } = delivery;
      if (event.subject === undefined) return sent;
      const folder = join(options.dir, fileNameOf(event.source.replace(/^audian\//, '')));
      const base = join(folder, fileNameOf(event.subject));
      try {
        if (event.type === 'transcript.segment') {
          await mkdir(folder, { recursive: true });
          const line = { event_id: event.id, time: event.time, speaker: event.data.speaker, text: event.data.text };
          await appendFile(`${base}.jsonl`, `${JSON.stringify(line)}\n`);
        } else if (Array.isArray(event.data.transcript)) {
          await mkdir(folder, { recursive: true });
          const document = { call: event.data.call, event_id: event.id, time: event.time, transcript: event.data.transcript };
          // Write then rename, so a reader never sees half a file.
          await writeFile(`${base}.json.tmp`, `${JSON.stringify(document, null, 2)}\n`);
          await rename(`${base}.json.tmp`, `${base}.json`);
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
        // In order: segments of one call append in the order they were accepted.
        for (const delivery of batch) results.push(await write(delivery));
        return results;
      },
      async stop() {},
    };
  },
};
