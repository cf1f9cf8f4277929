import type { Db } from './db.js';

/** Ids per statement: far below SQLite's limit on a JSON argument's size, and a bounded read each. */
const IDS_PER_QUERY = 500;

/**
 * The two reads of the provider's side (src/provider/): when a source last
 * received an event, and which of a list of event ids it stored. Both read
 * the `events` table only, through its indexes (received_at, id).
 */
export function createProviderReads(db: Db) {
  const newest = db.prepare<[string, string], { received_at: number }>(
    'SELECT received_at FROM events WHERE source = ? AND type NOT IN (SELECT value FROM json_each(?)) ORDER BY received_at DESC LIMIT 1',
  );
  const known = db.prepare<[string, string], { id: string }>('SELECT DISTINCT id FROM events WHERE source = ? AND id IN (SELECT value FROM json_each(?))');
  return {
    lastReceivedAt(source: string, exceptTypes: readonly string[]): number | undefined {
      return newest.get(source, JSON.stringify(exceptTypes))?.received_at;
    },
    storedEventIds(source: string, ids: readonly string[]): Set<string> {
      const found = new Set<string>();
      for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
        for (const row of known.all(source, JSON.stringify(ids.slice(start, start + IDS_PER_QUERY)))) found.add(row.id);
      }
      return found;
    },
  };
}
