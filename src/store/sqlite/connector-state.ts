import type { ConnectorState } from '../types.js';
import type { Db } from './db.js';
import { guarded } from './errors.js';

/** Writes one key through the store's writer (named-writes.ts `connectorState`), resolving once durable. */
type WriteState = (connector: string, key: string, value: string, expiresAt: number, now: number) => Promise<void>;

/** The `connector_state` table: per-connector keys with an expiry; expired rows read as absent. */
export function createConnectorStateQueries(db: Db, write: WriteState) {
  const select = db.prepare<[string, string, number], { value: string }>(
    'SELECT value FROM connector_state WHERE connector = ? AND key = ? AND expires_at > ?',
  );

  return {
    /** The state of one connector, read and written at `now()`. */
    scope(connector: string, now: () => number): ConnectorState {
      return {
        get: (key) => guarded('read connector state', () => select.get(connector, key, now())?.value),
        set: (key, value, expiresAt) => write(connector, key, value, expiresAt, now()),
      };
    },
  };
}
