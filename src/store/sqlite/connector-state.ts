import type { ConnectorStateAdapter } from '../core/adapter.js';
import type { Writer } from './connection-writer.js';
import type { Db } from './db.js';

/** The `connector_state` table: per-connector keys with an expiry; expired rows read as absent. Written through the writer. */
export function createConnectorState(db: Db, writer: Writer): ConnectorStateAdapter {
  const select = db.prepare<[string, string, number], { value: string }>(
    'SELECT value FROM connector_state WHERE connector = ? AND key = ? AND expires_at > ?',
  );
  return {
    get: (connector, key, now) => select.get(connector, key, now)?.value,
    set: (connector, key, value, expiresAt, now) => writer.write('connectorState', connector, key, value, expiresAt, now),
  };
}
