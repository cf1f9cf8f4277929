import type pg from 'pg';
import type { ConnectorState } from '../types.js';
import type { Guard } from './errors.js';

/** The `connector_state` table, shared by every replica: per-connector keys with an expiry; expired rows read as absent. */
export function createConnectorStateQueries(pool: pg.Pool, guarded: Guard) {
  return {
    /** The state of one connector, read and written at `now()`. */
    scope(connector: string, now: () => number): ConnectorState {
      return {
        get: (key) =>
          guarded('read connector state', async () => {
            const { rows } = await pool.query<{ value: string }>(
              'SELECT value FROM connector_state WHERE connector = $1 AND key = $2 AND expires_at > $3',
              [connector, key, now()],
            );
            return rows[0]?.value;
          }),
        set: (key, value, expiresAt) =>
          guarded('write connector state', async () => {
            await pool.query('DELETE FROM connector_state WHERE expires_at <= $1', [now()]);
            await pool.query(
              `INSERT INTO connector_state (connector, key, value, expires_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
              [connector, key, value, expiresAt],
            );
          }),
      };
    },
  };
}
