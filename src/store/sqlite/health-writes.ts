import type { ConnectorHealthRecord } from '../types.js';
import type { Db } from './db.js';
import { RESTART_BUDGETS } from './outbox-writes.js';

// Compare-and-set: the first record inserts version 1; each later one only over the version before it.
const RECORD_HEALTH = `INSERT INTO connector_health (connector, state, since, reason, until, flaps, version)
  VALUES (@connector, @state, @since, @reason, @until, @flaps, @version)
  ON CONFLICT (connector) DO UPDATE SET state = excluded.state, since = excluded.since, reason = excluded.reason,
    until = excluded.until, flaps = excluded.flaps, version = excluded.version
  WHERE connector_health.version = excluded.version - 1`;

/** Writes connector health (migration 10); `up` releases the connector's waiting deliveries in the same transaction. */
export function createHealthWrites(db: Db) {
  const record = db.prepare(RECORD_HEALTH);
  const restartBudgets = db.prepare(RESTART_BUDGETS);
  const once = db.transaction((next: ConnectorHealthRecord, now: number): boolean => {
    if (record.run(next).changes === 0) return false;
    if (next.state === 'up') restartBudgets.run({ connector: next.connector, now });
    return true;
  });
  return {
    record: (next: ConnectorHealthRecord, now: number): boolean => once.immediate(next, now),
  };
}
