import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { attemptOf, claimedFromRow, recordFromRow, type ClaimedRow, type RecordRow } from '../rows.js';
import type {
  AttemptRecord,
  ClaimedDelivery,
  ClaimOptions,
  DeadStats,
  DeliveryDetail,
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryRecord,
  DeliveryStatus,
  PauseRecord,
  PendingStats,
  ReplayResult,
  ReplaySelection,
  SettleResult,
} from '../types.js';
import { inTransaction, LOCKS, type Sql } from './db.js';

/** The columns a `RecordRow` reads, from deliveries `d` joined with events `e`. */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector, d.status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

interface RunRow extends ClaimedRow {
  next_attempt_at: number;
}

/** What each outcome writes to its delivery (parameters from $4 on), besides the attempt count and the lease it ends. */
const OUTCOME_SETS: Record<DeliveryOutcome['outcome'], string> = {
  delivered: "status = 'delivered', last_error = NULL",
  skipped: "status = 'skipped', skip_reason = $4, last_error = NULL",
  retry: 'next_attempt_at = $4, last_error = $5',
  dead: "status = 'dead', last_error = $4",
};

/**
 * The outbox. Unlike the SQLite store's, leases live in the rows
 * (`lease_token`, `lease_until`): every replica dispatches, and a replica that
 * dies mid-send releases its deliveries when their lease lapses.
 */
export function createDeliveryQueries(pool: pg.Pool) {
  async function isPaused(sql: Sql, connector: string): Promise<boolean> {
    return ((await sql.query('SELECT 1 FROM connector_pauses WHERE connector = $1', [connector])).rowCount ?? 0) > 0;
  }

  /**
   * The earliest pending deliveries of one ordering key, behind no live lease, locked, in order: the caller holds
   * the key's claim lock. Rows a settle is writing are waited for, not skipped (SKIP LOCKED here could skip the
   * head and hand out the event behind it).
   */
  async function runOf(client: pg.PoolClient, connector: string, orderKey: string, now: number, limit: number): Promise<RunRow[]> {
    const { rows } = await client.query<RunRow>(
      `SELECT d.id, d.route, d.connector, d.attempts, d.next_attempt_at, e.body, d.budget_from, d.replay
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
        WHERE d.connector = $1 AND d.order_key = $2 AND d.status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.connector = $1 AND l.order_key = $2 AND l.status = 'pending' AND l.lease_until > $3)
        ORDER BY d.id LIMIT $4 FOR UPDATE OF d`,
      [connector, orderKey, now, limit],
    );
    const due: RunRow[] = [];
    for (const row of rows) {
      if (row.next_attempt_at > now) break;
      due.push(row);
    }
    return due;
  }

  async function claim(connector: string, now: number, options: ClaimOptions): Promise<ClaimedDelivery[]> {
    return inTransaction(pool, async (client) => {
      if (await isPaused(client, connector)) return [];
      const perCall = Math.max(1, options.maxPerCall);
      // Only the earliest pending deliveries of an ordering key (one call's events, per connector) can be handed out:
      // candidate keys are those whose head is due and none of whose deliveries is leased, oldest head first.
      const { rows: heads } = await client.query<{ order_key: string }>(
        `SELECT order_key FROM deliveries WHERE connector = $1 AND status = 'pending'
          GROUP BY order_key
         HAVING (array_agg(next_attempt_at ORDER BY id))[1] <= $2 AND NOT COALESCE(bool_or(lease_until > $2), false)
          ORDER BY MIN(id) LIMIT $3`,
        [connector, now, options.limit],
      );
      const rows: RunRow[] = [];
      for (const { order_key: key } of heads) {
        if (rows.length >= options.limit) break;
        // Another replica's claim may be taking this key right now; what it takes is visible only once it commits.
        // The key's lock, held to the end of this transaction, makes claims of one key take turns; a key whose
        // lock is taken is skipped, as SKIP LOCKED skips a row, and the lease is checked again under the lock.
        const locked = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked', [
          LOCKS.claimClass,
          JSON.stringify([connector, key]),
        ]);
        if (!locked.rows[0]?.locked) continue;
        rows.push(...(await runOf(client, connector, key, now, Math.min(perCall, options.limit - rows.length))));
      }
      if (rows.length === 0) return [];
      rows.sort((a, b) => a.id - b.id);
      const token = randomUUID();
      await client.query('UPDATE deliveries SET lease_token = $1, lease_until = $2 WHERE id = ANY($3::bigint[])', [
        token,
        now + options.leaseMs,
        rows.map((row) => row.id),
      ]);
      return rows.map((row) => claimedFromRow(row, token));
    });
  }

  async function settle(outcomes: readonly DeliveryOutcome[], now: number): Promise<SettleResult> {
    return inTransaction(pool, async (client) => {
      const refused: number[] = [];
      let written = 0;
      for (const outcome of outcomes) {
        const attempt = attemptOf(outcome, now);
        const extra = outcome.outcome === 'delivered' ? [] : outcome.outcome === 'skipped' ? [outcome.reason] : outcome.outcome === 'retry' ? [outcome.at, outcome.error] : [outcome.error];
        // Only while the lease is still this one: a lapsed lease nobody took over still counts (the send it reports
        // was the only one); one claimed again has another token. Settling ends the lease, so the call's next
        // delivery becomes claimable once this transaction commits.
        const { rowCount } = await client.query(
          `WITH settled AS (
             UPDATE deliveries SET ${OUTCOME_SETS[outcome.outcome]}, attempts = attempts + 1, updated_at = $3,
                    lease_token = NULL, lease_until = NULL
              WHERE id = $1 AND lease_token = $2 AND status = 'pending'
              RETURNING id)
           INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms)
           SELECT id, $${extra.length + 4}::bigint, $${extra.length + 5}, $${extra.length + 6}, $${extra.length + 7}::integer FROM settled`,
          [outcome.id, outcome.lease, now, ...extra, attempt.at, outcome.outcome, attempt.note, attempt.durationMs],
        );
        if (rowCount) written += 1;
        else refused.push(outcome.id);
      }
      return { written, refused };
    });
  }

  async function replay(selection: ReplaySelection, now: number): Promise<ReplayResult> {
    return inTransaction(pool, async (client) => {
      if ('filter' in selection) {
        const { connector, route, since } = selection.filter;
        const { rows } = await client.query<{ id: number }>(
          `UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = $1, next_attempt_at = $1, updated_at = $1
            WHERE status = 'dead' AND ($2::text IS NULL OR connector = $2) AND ($3::text IS NULL OR route = $3)
              AND ($4::bigint IS NULL OR created_at >= $4)
            RETURNING id`,
          [now, connector ?? null, route ?? null, since ?? null],
        );
        return { queued: rows.map((row) => row.id).sort((a, b) => a - b), skipped: [] };
      }
      const wanted = [...new Set(selection.ids)];
      const { rows } = await client.query<{ id: number; status: DeliveryStatus }>(
        'SELECT id, status FROM deliveries WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE',
        [wanted],
      );
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
      await requeueDead(client, dead, now);
      // A delivered (or skipped) one goes again as a counted resend, so connectors can give it a new idempotency key.
      await client.query(
        `UPDATE deliveries SET status = 'pending', attempts = 0, replay = replay + 1, budget_from = $1, next_attempt_at = $1,
                last_error = NULL, skip_reason = NULL, updated_at = $1
          WHERE id = ANY($2::bigint[]) AND status IN ('delivered', 'skipped')`,
        [now, resent],
      );
      return { queued, skipped };
    });
  }

  /** A replayed dead delivery starts a fresh budget: no attempts counted, its age from now. */
  async function requeueDead(sql: Sql, ids: readonly number[], now: number): Promise<number> {
    const { rowCount } = await sql.query(
      "UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = $1, next_attempt_at = $1, updated_at = $1 WHERE id = ANY($2::bigint[]) AND status = 'dead'",
      [now, [...ids]],
    );
    return rowCount ?? 0;
  }

  async function resume(connector: string, now: number): Promise<boolean> {
    return inTransaction(pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM connector_pauses WHERE connector = $1', [connector]);
      if (!rowCount) return false;
      // Time spent paused never counts towards `max_age`, and what waited is due at once.
      await client.query(
        `UPDATE deliveries SET budget_from = GREATEST(budget_from, $2), next_attempt_at = LEAST(next_attempt_at, $2)
          WHERE connector = $1 AND status = 'pending'`,
        [connector, now],
      );
      return true;
    });
  }

  async function list(filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const { rows } = await pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS}
         FROM deliveries d JOIN events e ON e.seq = d.event_seq
        WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.connector = $2)
          AND ($3::text IS NULL OR d.route = $3) AND ($4::text IS NULL OR e.id = $4)
          AND ($5::text IS NULL OR e.subject = $5) AND ($6::bigint IS NULL OR d.created_at >= $6)
          AND ($7::bigint IS NULL OR d.id < $7)
        ORDER BY d.id DESC LIMIT $8`,
      [
        filter.status ?? null,
        filter.connector ?? null,
        filter.route ?? null,
        filter.event ?? null,
        filter.call ?? null,
        filter.since ?? null,
        filter.before ?? null,
        filter.limit ?? 100,
      ],
    );
    return rows.map(recordFromRow);
  }

  async function delivery(id: number): Promise<DeliveryDetail | undefined> {
    const { rows } = await pool.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1`, [id]);
    if (!rows[0]) return undefined;
    const history = await pool.query<{ at: number; outcome: AttemptRecord['outcome']; error: string | null; duration_ms: number | null }>(
      'SELECT at, outcome, error, duration_ms FROM delivery_attempts WHERE delivery_id = $1 ORDER BY seq',
      [id],
    );
    const attempts = history.rows.map((entry) => ({ at: entry.at, outcome: entry.outcome, error: entry.error, durationMs: entry.duration_ms }));
    return { ...recordFromRow(rows[0]), history: attempts };
  }

  return {
    claim,
    settle,
    async nextDueAt(connector: string): Promise<number | undefined> {
      if (await isPaused(pool, connector)) return undefined;
      const { rows } = await pool.query<{ at: number | null }>(
        "SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = $1 AND status = 'pending'",
        [connector],
      );
      return rows[0]?.at ?? undefined;
    },
    async pendingStats(): Promise<PendingStats[]> {
      const { rows } = await pool.query<PendingStats>(
        "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector ORDER BY connector",
      );
      return rows;
    },
    async deadStats(): Promise<DeadStats[]> {
      const { rows } = await pool.query<DeadStats>("SELECT connector, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY connector ORDER BY connector");
      return rows;
    },
    list,
    delivery,
    /** The deliveries of one stored event (by its sequence number), in creation order. */
    async ofEvent(eventSeq: number): Promise<DeliveryRecord[]> {
      const { rows } = await pool.query<RecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.event_seq = $1 ORDER BY d.id`,
        [eventSeq],
      );
      return rows.map(recordFromRow);
    },
    replay,
    requeue: (ids: readonly number[], now: number) => requeueDead(pool, ids, now),
    async purgeDead(before: number, connector: string | undefined): Promise<number> {
      const { rowCount } = await pool.query(
        "DELETE FROM deliveries WHERE status = 'dead' AND updated_at < $1 AND ($2::text IS NULL OR connector = $2)",
        [before, connector ?? null],
      );
      return rowCount ?? 0;
    },
    async pause(connector: string, now: number): Promise<boolean> {
      const { rowCount } = await pool.query('INSERT INTO connector_pauses (connector, paused_at) VALUES ($1, $2) ON CONFLICT (connector) DO NOTHING', [
        connector,
        now,
      ]);
      return (rowCount ?? 0) > 0;
    },
    resume,
    async paused(): Promise<PauseRecord[]> {
      const { rows } = await pool.query<{ connector: string; paused_at: number }>('SELECT connector, paused_at FROM connector_pauses ORDER BY connector');
      return rows.map((row) => ({ connector: row.connector, since: row.paused_at }));
    },
  };
}
