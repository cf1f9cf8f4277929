import { statSync } from 'node:fs';
import type { CanonicalEvent } from '../../dialects/index.js';
import type { OperationsAdapter } from '../core/adapter.js';
import type { EventTrace } from '../types.js';
import type { CallReads } from './calls.js';
import type { Writer } from './connection-writer.js';
import type { Db } from './db.js';
import type { OutboxReads } from './outbox-reads.js';
import { createOperatorReads } from './operator-reads.js';
import { createProviderReads } from './provider-reads.js';
import { withRaw } from '../raw.js';

/** The outbox as operators read it (on the reading connection) and change it (through the writer). */
export function createSqliteOperations(db: Db, path: string, calls: CallReads, reads: OutboxReads, writer: Writer): OperationsAdapter {
  const eventsById = db.prepare<
    [string],
    { seq: number; body: string; received_at: number; source: string; subject: string | null; raw_body: Buffer | null; raw_headers: string | null }
  >(
    'SELECT seq, body, received_at, source, subject, raw_body, raw_headers FROM events WHERE id = ? ORDER BY seq DESC',
  );
  const provider = createProviderReads(db);
  return {
    pendingStats: () => reads.pendingStats(),
    deadStats: () => reads.deadStats(),
    list: (filter) => reads.list(filter),
    delivery: (id) => reads.delivery(id),
    trace: (eventId): EventTrace[] =>
      eventsById.all(eventId).map((row) => ({
        event: JSON.parse(row.body) as CanonicalEvent,
        receivedAt: row.received_at,
        call: row.subject === null ? undefined : calls.get(row.source, row.subject),
        deliveries: reads.ofEvent(row.seq),
        ...withRaw(row.raw_body, row.raw_headers),
      })),
    paused: () => reads.paused(),
    replay: (selection, now, actor) => writer.write('replay', selection, now, actor),
    purgeDead: (before, connector) => writer.write('purgeDead', before, connector),
    pause: (connector, now, actor) => writer.write('pause', connector, now, actor),
    resume: (connector, now, actor) => writer.write('resume', connector, now, actor),
    sizeBytes: () => sizeOnDisk(path),
    lastReceivedAt: (source, exceptTypes) => provider.lastReceivedAt(source, exceptTypes),
    storedEventIds: (source, ids) => provider.storedEventIds(source, ids),
    ...createOperatorReads(db),
  };
}

/** The database file and its WAL, as the disk holds them. */
function sizeOnDisk(path: string): number | undefined {
  if (path === ':memory:') return undefined;
  let total = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      total += statSync(file).size;
    } catch {
      // no WAL file right now
    }
  }
  return total;
}
