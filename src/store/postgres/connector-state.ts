import type pg from 'pg';
import type { ConnectorStateAdapter } from '../core/adapter.js';

const UPSERT = `INSERT INTO connector_state (connector, key, value, expires_at) VALUES ($1, $2, $3, $4)
  ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`;

/**
 * PostgreSQL text cannot hold NUL, which the connectors' keys use as a separator
 * (connectors/http/stale-guard.ts, connectors/slack/threads.ts,
 * connectors/transcript/names.ts): a key is stored with `\` as `\\` and NUL
 * as `\0`, so distinct keys stay distinct. No key with NUL was ever stored here.
 */
function storedKey(key: string): string {
  return key.replaceAll('\\', '\\\\').replaceAll('\u0000', '\\0');
}

/** The `connector_state` table, shared by every replica: per-connector keys with an expiry; expired rows read as absent. */
export function createConnectorState(pool: pg.Pool): ConnectorStateAdapter {
  return {
    async get(connector, key, now) {
      const { rows } = await pool.query<{ value: string }>('SELECT value FROM connector_state WHERE connector = $1 AND key = $2 AND expires_at > $3', [connector, storedKey(key), now]);
      return rows[0]?.value;
    },
    async set(connector, key, value, expiresAt, now) {
      await pool.query('DELETE FROM connector_state WHERE expires_at <= $1', [now]);
      await pool.query(UPSERT, [connector, storedKey(key), value, expiresAt]);
    },
  };
}
