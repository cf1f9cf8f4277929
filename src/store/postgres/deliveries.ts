import type pg from 'pg';
import { recordFromRow, type RecordRow } from '../rows.js';
import type {
  AttemptRecord,
  DeadStats,
  DeliveryDetail,
  DeliveryFilter,
  DeliveryRecord,
  DeliveryStatus,
  PauseRecord,
  PendingStats,
  ReplayResult,
  ReplaySelection,
} from '../types.js';
import { inTransaction, type Sql } from './db.js';

/** The columns a `RecordRow` reads, from deliveries `d` joined with events `e`. */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector, d.status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

const FROM_DELIVERIES = 'FROM deliveries d JOIN events e ON e.seq = d.event_seq';

const LIST = `SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES}
  WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.connector = $2)
    AND ($3::text IS NULL OR d.route = $3) AND ($4::text IS NULL OR e.id = $4)
    AND ($5::text IS NULL OR e.subject = $5) AND ($6::bigint IS NULL OR d.created_at >= $6)
    AND ($7::bigint IS NULL OR d.id < $7)
  ORDER BY d.id DESC LIMIT $8`;

const REQUEUE_MATCHING = `UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = $1, next_attempt_at = $1, updated_at = $1
  WHERE status = 'dead' AND ($2::text IS NULL OR connector = $2) AND ($3::text IS NULL OR route = $3)
    AND ($4::bigint IS NULL OR created_at >= $4)
  RETURNING id`;

// A replayed dead delivery starts a fresh budget: no attempts counted, its age from now.
const REQUEUE_DEAD = `UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = $1, next_attempt_at = $1, updated_at = $1
  WHERE id = ANY($2::bigint[]) AND status = 'dead'`;

// A delivered (or skipped) one goes again as a counted resend, so connectors can give it a new idempotency key.
const RESEND = `UPDATE deliveries SET status = 'pending', attempts = 0, replay = replay + 1, budget_from = $1, next_attempt_at = $1,
       last_error = NULL, skip_reason = NULL, updated_at = $1
 WHERE id = ANY($2::bigint[]) AND status IN ('delivered', 'skipped')`;

// Time spent paused never counts towards `max_age`, and what waited is due at once.
export const RESTART_BUDGETS = `UPDATE deliveries SET budget_from = GREATEST(budget_from, $2), next_attempt_at = LEAST(next_attempt_at, $2)
  WHERE connector = $1 AND status = 'pending'`;

/** The outbox as operators read and change it, as queries on whatever `Sql` they are given (the pool, or a transaction's client). */
export const deliveryQueries = {
  async isPaused(sql: Sql, connector: string): Promise<boolean> {
    return ((await sql.query('SELECT 1 FROM connector_pauses WHERE connector = $1', [connector])).rowCount ?? 0) > 0;
  },

  async nextDueAt(sql: Sql, connector: string): Promise<number | undefined> {
    if (await deliveryQueries.isPaused(sql, connector)) return undefined;
    const { rows } = await sql.query<{ at: number | null }>("SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = $1 AND status = 'pending'", [connector]);
    return rows[0]?.at ?? undefined;
  },

  async pendingStats(sql: Sql): Promise<PendingStats[]> {
    const { rows } = await sql.query<PendingStats>(
      "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector ORDER BY connector",
    );
    return rows;
  },

  async deadStats(sql: Sql): Promise<DeadStats[]> {
    const { rows } = await sql.query<DeadStats>("SELECT connector, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY connector ORDER BY connector");
    return rows;
  },

  async list(sql: Sql, filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const { status, connector, route, event, call, since, before, limit } = filter;
    const { rows } = await sql.query<RecordRow>(LIST, [status ?? null, connector ?? null, route ?? null, event ?? null, call ?? null, since ?? null, before ?? null, limit ?? 100]);
    return rows.map(recordFromRow);
  },

  async delivery(sql: Sql, id: number): Promise<DeliveryDetail | undefined> {
    const { rows } = await sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES} WHERE d.id = $1`, [id]);
    if (!rows[0]) return undefined;
    const history = await sql.query<{ at: number; outcome: AttemptRecord['outcome']; error: string | null; duration_ms: number | null }>(
      'SELECT at, outcome, error, duration_ms FROM delivery_attempts WHERE delivery_id = $1 ORDER BY seq',
      [id],
    );
    const attempts = history.rows.map((entry) => ({ at: entry.at, outcome: entry.outcome, error: entry.error, durationMs: entry.duration_ms }));
    return { ...recordFromRow(rows[0]), history: attempts };
  },

  /** The deliveries of one stored event (by its sequence number), in creation order. */
  async ofEvent(sql: Sql, eventSeq: number): Promise<DeliveryRecord[]> {
    const { rows } = await sql.query<RecordRow>(`SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES} WHERE d.event_seq = $1 ORDER BY d.id`, [eventSeq]);
    return rows.map(recordFromRow);
  },

  async paused(sql: Sql): Promise<PauseRecord[]> {
    const { rows } = await sql.query<{ connector: string; paused_at: number }>('SELECT connector, paused_at FROM connector_pauses ORDER BY connector');
    return rows.map((row) => ({ connector: row.connector, since: row.paused_at }));
  },

  replay(pool: pg.Pool, selection: ReplaySelection, now: number): Promise<ReplayResult> {
    return inTransaction(pool, async (client) => {
      if ('filter' in selection) {
        const { connector, route, since } = selection.filter;
        const { rows } = await client.query<{ id: number }>(REQUEUE_MATCHING, [now, connector ?? null, route ?? null, since ?? null]);
        return { queued: rows.map((row) => row.id).sort((a, b) => a - b), skipped: [] };
      }
      const wanted = [...new Set(selection.ids)];
      const { rows } = await client.query<{ id: number; status: DeliveryStatus }>('SELECT id, status FROM deliveries WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [wanted]);
      const statusOf = new Map(rows.map((row) => [row.id, row.status]));
      const queued: number[] = [];
      const skipped: ReplayResult['skipped'][number][] = [];
      const dead: number[] = [];
      const resent: number[] = [];
      for (const id of wanted) {
        const status = statusOf.get(id);
        if (status === undefined) skipped.push({ id, reason: 'not_found' });
        else if (status === 'pending') skipped.push({ id, reason: 'pending' });
        else {
          (status === 'dead' ? dead : resent).push(id);
          queued.push(id);
        }
      }
      await client.query(REQUEUE_DEAD, [now, dead]);
      await client.query(RESEND, [now, resent]);
      return { queued, skipped };
    });
  },

  async purgeDead(sql: Sql, before: number, connector: string | undefined): Promise<number> {
    const { rowCount } = await sql.query("DELETE FROM deliveries WHERE status = 'dead' AND updated_at < $1 AND ($2::text IS NULL OR connector = $2)", [before, connector ?? null]);
    return rowCount ?? 0;
  },

  async pause(sql: Sql, connector: string, now: number): Promise<boolean> {
    const { rowCount } = await sql.query('INSERT INTO connector_pauses (connector, paused_at) VALUES ($1, $2) ON CONFLICT (connector) DO NOTHING', [connector, now]);
    return (rowCount ?? 0) > 0;
  },

  resume(pool: pg.Pool, connector: string, now: number): Promise<boolean> {
    return inTransaction(pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM connector_pauses WHERE connector = $1', [connector]);
      if (!rowCount) return false;
      await client.query(RESTART_BUDGETS, [connector, now]);
      return true;
    });
  },
};
