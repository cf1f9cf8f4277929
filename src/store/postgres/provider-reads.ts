import type pg from 'pg';

/** Ids per statement: a bounded read each. */
const IDS_PER_QUERY = 1000;

/**
 * The two reads of the provider's side (src/provider/): when a source last
 * received an event, and which of a list of event ids it stored. Both read
 * the `events` table only, through its indexes (received_at, id).
 */
export function createProviderReads(pool: pg.Pool) {
  return {
    async lastReceivedAt(source: string, exceptTypes: readonly string[]): Promise<number | undefined> {
      const { rows } = await pool.query<{ received_at: string }>(
        'SELECT received_at FROM events WHERE source = $1 AND NOT (type = ANY($2::text[])) ORDER BY received_at DESC LIMIT 1',
        [source, exceptTypes],
      );
      return rows[0] === undefined ? undefined : Number(rows[0].received_at);
    },
    async storedEventIds(source: string, ids: readonly string[]): Promise<Set<string>> {
      const found = new Set<string>();
      for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
        const { rows } = await pool.query<{ id: string }>('SELECT DISTINCT id FROM events WHERE source = $1 AND id = ANY($2::text[])', [source, ids.slice(start, start + IDS_PER_QUERY)]);
        for (const row of rows) found.add(row.id);
      }
      return found;
    },
  };
}
