import type { ConnectorState } from '../types.js';
import type { Db } from './db.js';
import { guarded } from './errors.js';

/** The `connector_state` table: per-connector keys with an expiry; expired rows read as absent. */
/** `durable` resolves once what was written is as durable as `store.synchronous` promises. */
export function createConnectorStateQueries(db: Db, durable: () => Promise<void>) {
  const select = db.prepare<[string, string, number], { value: string }>(
    'SELECT value FROM connector_state WHERE connector = ? AND key = ? AND expires_at > ?',
  );
  const upsert = db.prepare(
    `INSERT INTO connector_state (connector, key, value, expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
  );
  const expire = db.prepare('DELETE FROM connector_state WHERE expires_at <= ?');

  return {
    /** The state of one connector, read and written at `now()`. */
    scope(connector: string, now: () => number): ConnectorState {
      return {
        get: (key) => guarded('read connector state', () => select.get(connector, key, now())?.value),
        set: (key, value, expiresAt) =>
          guarded('write connector state', () => {
            expire.run(now());
            upsert.run(connector, key, value, expiresAt);
            return durable();
          }),
      };
    },
  };
}
