import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { nonEmpty } from '../../src/config/values.js';
import { permanent, retriable, sent, type Connector, type ConnectorDefinition } from '../types.js';

export const fileSchema = z.strictObject({
  type: z.literal('file'),
  /** JSON-lines file the canonical events are appended to. */
  path: nonEmpty(),
  /** fsync after each batch, so a delivered event survives a power loss. */
  fsync: z.boolean().default(true),
});

export type FileOptions = z.output<typeof fileSchema>;

/** Appends each canonical event as one JSON line. */
export const fileConnector: ConnectorDefinition<typeof fileSchema> = {
  schema: fileSchema,
  batchSize: 200,
  create(name, options, context): Connector {
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
          const error = err as NodeJS.ErrnoException;
          // A missing permission will not fix itself; a full disk or I/O error may.
          const result = error.code === 'EACCES' || error.code === 'EISDIR' ? permanent(error.message) : retriable(error.message);
          await handle?.close().catch(() => undefined);
          handle = undefined;
          return batch.map(() => result);
        }
      },
      async stop() {
        await handle?.close();
        handle = undefined;
      },
    };
  },
};
