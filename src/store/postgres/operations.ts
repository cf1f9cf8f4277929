import type pg from 'pg';
import type { CanonicalEvent } from '../../dialects/index.js';
import type { OperationsAdapter } from '../core/adapter.js';
import type { EventTrace } from '../types.js';
import { callQueries } from './calls.js';
import { deliveryQueries } from './deliveries.js';
import { retryingContention } from './errors.js';
import { createOperatorReads } from './operator-reads.js';
import { createProviderReads } from './provider-reads.js';
import { withRaw } from '../raw.js';

/** The outbox as operators read and change it; each change a transaction of its own, run again after a deadlock. */
export function createPostgresOperations(pool: pg.Pool): OperationsAdapter {
  const provider = createProviderReads(pool);
  return {
    pendingStats: () => deliveryQueries.pendingStats(pool),
    deadStats: () => deliveryQueries.deadStats(pool),
    list: (filter) => deliveryQueries.list(pool, filter),
    delivery: (id) => deliveryQueries.delivery(pool, id),
    trace: (eventId) => trace(pool, eventId),
    paused: () => deliveryQueries.paused(pool),
    replay: (selection, now, actor) => retryingContention(() => deliveryQueries.replay(pool, selection, now, actor)),
    purgeDead: (before, connector) => retryingContention(() => deliveryQueries.purgeDead(pool, before, connector)),
    pause: (connector, now, actor) => retryingContention(() => deliveryQueries.pause(pool, connector, now, actor)),
    resume: (connector, now, actor) => retryingContention(() => deliveryQueries.resume(pool, connector, now, actor)),
    async sizeBytes() {
      const { rows } = await pool.query<{ size: number }>('SELECT pg_database_size(current_database()) AS size');
      return rows[0]?.size;
    },
    lastReceivedAt: (source, exceptTypes) => provider.lastReceivedAt(source, exceptTypes),
    storedEventIds: (source, ids) => provider.storedEventIds(source, ids),
    ...createOperatorReads(pool),
  };
}

async function trace(pool: pg.Pool, eventId: string): Promise<EventTrace[]> {
  const { rows } = await pool.query<{ seq: number; body: string; received_at: number; source: string; subject: string | null; raw_body: Buffer | null; raw_headers: string | null }>(
    'SELECT seq, body, received_at, source, subject, raw_body, raw_headers FROM events WHERE id = $1 ORDER BY seq DESC',
    [eventId],
  );
  return Promise.all(
    rows.map(async (row) => ({
      event: JSON.parse(row.body) as CanonicalEvent,
      receivedAt: row.received_at,
      call: row.subject === null ? undefined : await callQueries.get(pool, row.source, row.subject),
      deliveries: await deliveryQueries.ofEvent(pool, row.seq),
      ...withRaw(row.raw_body, row.raw_headers),
    })),
  );
}
