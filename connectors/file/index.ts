import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { nonEmpty, retriable, sent, type ConnectorDefinition } from '../../src/sdk/index.js';
import { probeAppendable } from '../directory-probe.js';

const TYPE = 'file';

export const fileSchema = z.strictObject({
  type: z.literal(TYPE),
  /** JSON-lines file the canonical events are appended to. */
  path: nonEmpty(),
  /** fsync after each batch, so a delivered event survives a power loss. */
  fsync: z.boolean().default(true),
});

export type FileOptions = z.output<typeof fileSchema>;

/** Appends each canonical event as one JSON line. */
export const fileConnector: ConnectorDefinition<typeof fileSchema> = {
  type: TYPE,
  schema: fileSchema,
  batchSize: 200,
  // One append per batch, in the batch's order: it succeeds or fails as a whole.
  maxPerCall: 200,
  create(name, options, context) {
    const logger = context.logger.child({ connector: name });
    let handle: FileHandle | undefined;

    async function ensureOpen(): Promise<FileHandle> {
      if (!handle) {
        await mkdir(dirname(options.path), { recursive: true });
        handle = await open(options.path, 'a');
      }
      return handle;
    }

    return {
      name,
      async start() {
        await ensureOpen();
        logger.debug({ path: options.path }, 'file connector ready');
      },
      async send(batch) {
        const lines = batch.map((delivery) => `${JSON.stringify(delivery.event)}\n`).join('');
        try {
          const file = await ensureOpen();
          await file.appendFile(lines);
          if (options.fsync) await file.sync();
          return batch.map(() => sent);
        } catch (err) {
          // Nothing in an event makes a line unwritable: a missing permission
          // (EACCES), a full disk or a folder in the way are the operator's to
          // fix, and the waiting lines go out once they are.
          const error = err as NodeJS.ErrnoException;
          const result = retriable(`cannot append to ${options.path}: ${error.code ?? error.message}`, undefined, 'unreachable');
          await handle?.close().catch(() => undefined);
          handle = undefined;
          return batch.map(() => result);
        }
      },
      probe: () => probeAppendable(options.path),
      async preview(event) {
        return { outcome: 'send', target: options.path, message: { path: options.path, line: JSON.stringify(event) } };
      },
      async stop() {
        await handle?.close();
        handle = undefined;
      },
    };
  },
};
