import type pg from 'pg';
import type { ConnectorHealthRecord } from '../types.js';
import { inTransaction } from './db.js';
import { RESTART_BUDGETS } from './deliveries.js';

// Compare-and-set: the first record inserts version 1; each later one only over the version before it.
const RECORD = `INSERT INTO connector_health (connector, state, since, reason, until, flaps, version)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (connector) DO UPDATE SET state = excluded.state, since = excluded.since, reason = excluded.reason,
    until = excluded.until, flaps = excluded.flaps, version = excluded.version
  WHERE connector_health.version = excluded.version - 1`;

/** The `connector_health` table, shared by every replica (migration 5). */
export const healthQueries = {
  async all(pool: pg.Pool): Promise<ConnectorHealthRecord[]> {
    const { rows } = await pool.query<ConnectorHealthRecord>('SELECT connector, state, since, reason, until, flaps, version FROM connector_health ORDER BY connector');
    return rows;
  },

  /** Written only over the version before; `up` releases the connector's waiting deliveries in the same transaction. */
  record(pool: pg.Pool, next: ConnectorHealthRecord, now: number): Promise<boolean> {
    return inTransaction(pool, async (client) => {
      const { rowCount } = await client.query(RECORD, [next.connector, next.state, next.since, next.reason, next.until, next.flaps, next.version]);
      if (!rowCount) return false;
      if (next.state === 'up') await client.query(RESTART_BUDGETS, [next.connector, now]);
      return true;
    });
  },
};
