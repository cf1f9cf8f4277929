/** The writer thread's entry point (thread-writer.ts): the store's writer on a connection of its own. */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.js';
import { createConnectionWriter, type WriterOptions } from './connection-writer.js';
import { serveWriter } from './thread-writer.js';

const options = workerData as WriterOptions;
// The serving thread opened the file (and migrated it) before starting this one.
const db = openDatabase(options.path, options.synchronous === undefined ? {} : { synchronous: options.synchronous });
const writer = createConnectionWriter(db, options);
serveWriter(parentPort!, writer, async () => {
  await writer.close();
  db.close();
});
