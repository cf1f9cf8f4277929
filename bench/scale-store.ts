import type pg from 'pg';
import type { Db } from '../src/store/sqlite/db.js';
import type { ScaleFacts } from './page-reads.js';

/**
 * A store of `deliveries` deliveries built with SQL alone, in the shape the
 * bridge writes: two deliveries per event (`crm` by route `crm`, `events` by
 * route `all`), four events per call (initiated, ringing, answered,
 * completed) a second apart, a call per caller number `+1415555nnnn` (10 000
 * numbers), one source in fifty `audian/other`; per hundred events one
 * dead `crm` delivery with three attempts, one pending retry, one skipped;
 * one attempt recorded for every tenth delivered one.
 */
export const SCALE_T0 = Date.parse('2026-03-01T00:00:00Z');

/** The rows of one event `i` (1-based), as SQL expressions both databases read alike. */
const EVENT = {
  source: (i: string) => `CASE WHEN ${i} % 50 = 0 THEN 'audian/other' ELSE 'audian/main' END`,
  type: (i: string) => `CASE ${i} % 4 WHEN 1 THEN 'call.initiated' WHEN 2 THEN 'call.ringing' WHEN 3 THEN 'call.answered' ELSE 'call.completed' END`,
  subject: (i: string, div: string) => `'call-' || ${div}`,
  at: (i: string) => `${SCALE_T0} + ${i} * 1000`,
};

/** Status of delivery `i`'s `crm` delivery: per hundred events one dead, one pending, one skipped (delivered with a reason). */
const CRM_STATUS = (i: string) => `CASE ${i} % 100 WHEN 0 THEN 'dead' WHEN 1 THEN 'pending' ELSE 'delivered' END`;

export function factsOf(deliveries: number): ScaleFacts {
  const events = deliveries / 2;
  return { newestDelivery: deliveries, deadDelivery: 2 * 100 - 1, newest: SCALE_T0 + events * 1000 };
}

/** Fills a migrated, empty SQLite store (its own connection, outside the writer) in one transaction. */
export function buildSqliteScale(db: Db, deliveries: number): ScaleFacts {
  const events = deliveries / 2;
  const n = `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${events})`;
  // The indexes are built after the rows, as one sort each: the same indexes, in a fraction of the time.
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as { name: string; sql: string }[];
  db.transaction(() => {
    for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
    db.exec(`${n} INSERT INTO events (seq, dedupe_key, id, source, type, subject, received_at, body)
      SELECT i, 'key-' || i, 'evt-' || i, ${EVENT.source('i')}, ${EVENT.type('i')}, ${EVENT.subject('i', '((i + 3) / 4)')}, ${EVENT.at('i')},
             '{"id":"evt-' || i || '","type":"call","data":{"call_id":"call-' || ((i + 3) / 4) || '"}}' FROM n`);
    db.exec(`${n} INSERT INTO deliveries (id, event_seq, route, connector, order_key, status, attempts, next_attempt_at, last_error, created_at, updated_at, budget_from, skip_reason)
      SELECT 2 * i - 1, i, 'crm', 'crm', 'audian/main' || char(0) || 'call-' || ((i + 3) / 4), ${CRM_STATUS('i')},
             CASE WHEN i % 100 IN (0, 1) THEN 3 ELSE 1 END, ${EVENT.at('i')} + 60000,
             CASE WHEN i % 100 IN (0, 1) THEN 'HTTP 503 from the CRM' END, ${EVENT.at('i')}, ${EVENT.at('i')} + 1000, ${EVENT.at('i')},
             CASE WHEN i % 100 = 2 THEN 'older than the one delivered' END FROM n
      UNION ALL
      SELECT 2 * i, i, 'all', 'events', 'audian/main' || char(0) || 'call-' || ((i + 3) / 4), 'delivered', 1, ${EVENT.at('i')}, NULL,
             ${EVENT.at('i')}, ${EVENT.at('i')} + 10, ${EVENT.at('i')}, NULL FROM n`);
    db.exec(`${n.replace(`i < ${events}`, `i < ${events / 4}`)} INSERT INTO calls (source, call_id, direction, from_number, to_number, status, answered, ended_at, missed, updated_at)
      SELECT 'audian/main', 'call-' || i, 'inbound', '+1415555' || substr('000' || (i % 10000), -4), '+4930123456', 'completed', 1,
             '2026-03-01T00:00:00Z', 'not_missed', ${SCALE_T0} + i * 4000 + 4000 FROM n`);
    db.exec(`INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms)
      SELECT id, created_at, 'retry', 'HTTP 503 from the CRM', 120 FROM deliveries WHERE status = 'dead'
      UNION ALL SELECT id, created_at + 30000, 'retry', 'HTTP 503 from the CRM', 120 FROM deliveries WHERE status = 'dead'
      UNION ALL SELECT id, created_at + 60000, 'dead', 'HTTP 503 from the CRM', 120 FROM deliveries WHERE status = 'dead'
      UNION ALL SELECT id, created_at, 'delivered', NULL, 80 FROM deliveries WHERE id % 10 = 0 AND status = 'delivered'`);
    for (const index of indexes) db.exec(index.sql);
  })();
  db.exec('ANALYZE');
  return factsOf(deliveries);
}

/** Fills a migrated, empty PostgreSQL store, then ANALYZE, as autovacuum would have by then. */
export async function buildPostgresScale(sql: pg.Pool, deliveries: number): Promise<ScaleFacts> {
  const events = deliveries / 2;
  const n = `generate_series(1, ${events}) AS n (i)`;
  const client = await sql.connect();
  try {
    await client.query('BEGIN');
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(
      `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
        WHERE schemaname = current_schema() AND indexname NOT LIKE '%pkey' AND indexdef NOT LIKE 'CREATE UNIQUE%'`,
    );
    for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
    await client.query(`INSERT INTO events (seq, dedupe_key, id, source, type, subject, received_at, body)
      SELECT i, 'key-' || i, 'evt-' || i, ${EVENT.source('i')}, ${EVENT.type('i')}, ${EVENT.subject('i', '((i + 3) / 4)')}, ${EVENT.at('i')},
             '{"id":"evt-' || i || '","type":"call","data":{"call_id":"call-' || ((i + 3) / 4) || '"}}' FROM ${n}`);
    await client.query(`INSERT INTO deliveries (id, event_seq, route, connector, order_key, status, attempts, next_attempt_at, last_error, created_at, updated_at, budget_from, skip_reason)
      SELECT 2 * i - 1, i, 'crm', 'crm', 'audian/main:call-' || ((i + 3) / 4),
             CASE i % 100 WHEN 0 THEN 'dead' WHEN 1 THEN 'pending' WHEN 2 THEN 'skipped' ELSE 'delivered' END,
             CASE WHEN i % 100 IN (0, 1) THEN 3 ELSE 1 END, ${EVENT.at('i')} + 60000,
             CASE WHEN i % 100 IN (0, 1) THEN 'HTTP 503 from the CRM' END, ${EVENT.at('i')}, ${EVENT.at('i')} + 1000, ${EVENT.at('i')},
             CASE WHEN i % 100 = 2 THEN 'older than the one delivered' END FROM ${n}
      UNION ALL
      SELECT 2 * i, i, 'all', 'events', 'audian/main:call-' || ((i + 3) / 4), 'delivered', 1, ${EVENT.at('i')}, NULL,
             ${EVENT.at('i')}, ${EVENT.at('i')} + 10, ${EVENT.at('i')}, NULL FROM ${n}`);
    await client.query(`INSERT INTO calls (source, call_id, direction, from_number, to_number, status, answered, ended_at, missed, updated_at)
      SELECT 'audian/main', 'call-' || i, 'inbound', '+1415555' || lpad((i % 10000)::text, 4, '0'), '+4930123456', 'completed', true,
             '2026-03-01T00:00:00Z', 'not_missed', ${SCALE_T0} + i * 4000 + 4000 FROM generate_series(1, ${events / 4}) AS n (i)`);
    await client.query(`INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms)
      SELECT id, created_at + k * 30000, CASE k WHEN 2 THEN 'dead' ELSE 'retry' END, 'HTTP 503 from the CRM', 120
        FROM deliveries CROSS JOIN generate_series(0, 2) AS k WHERE status = 'dead'
      UNION ALL SELECT id, created_at, 'delivered', NULL, 80 FROM deliveries WHERE id % 10 = 0 AND status = 'delivered'`);
    for (const index of indexes) await client.query(index.definition);
    // The sequences go on after the rows given ids here, as they would have.
    await client.query("SELECT setval(pg_get_serial_sequence('events', 'seq'), (SELECT max(seq) FROM events))");
    await client.query("SELECT setval(pg_get_serial_sequence('deliveries', 'id'), (SELECT max(id) FROM deliveries))");
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  await sql.query('ANALYZE');
  return factsOf(deliveries);
}
