import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { OutboxAdapter } from '../core/adapter.js';
import { attemptOf, claimedFromRow, type ClaimedRow } from '../rows.js';
import type { ClaimedDelivery, ClaimOptions, DeliveryOutcome, SettleResult } from '../types.js';
import { inTransaction, LOCKS } from './db.js';
import { deliveryQueries } from './deliveries.js';
import { healthQueries } from './health.js';
import { retryingContention } from './errors.js';

interface RunRow extends ClaimedRow {
  next_attempt_at: number;
}

/** What each outcome writes to its delivery (parameters from $4 on), besides the attempt count and the lease it ends. */
const OUTCOME_SETS: Record<DeliveryOutcome['outcome'], string> = {
  delivered: "status = 'delivered', last_error = NULL",
  skipped: "status = 'skipped', skip_reason = $4, last_error = NULL",
  retry: 'next_attempt_at = $4, last_error = $5',
  dead: "status = 'dead', last_error = $4",
  held: 'last_error = $4',
};

/** Its connector is down or held: the lease ends, no attempt is counted and none is kept in the history. */
const SETTLE_HELD = `UPDATE deliveries SET last_error = $3, updated_at = $4, lease_token = NULL, lease_until = NULL
  WHERE id = $1 AND lease_token = $2 AND status = 'pending'`;

// Only the earliest pending deliveries of an ordering key (one call's events, per connector) can be handed out:
// candidate keys are those whose head is due and none of whose deliveries is leased, oldest head first.
const CANDIDATE_KEYS = `SELECT order_key FROM deliveries WHERE connector = $1 AND status = 'pending'
   GROUP BY order_key
  HAVING (array_agg(next_attempt_at ORDER BY id))[1] <= $2 AND NOT COALESCE(bool_or(lease_until > $2), false)
   ORDER BY MIN(id) LIMIT $3`;

/**
 * The earliest pending deliveries of one ordering key, behind no live lease, locked, in order: the caller holds
 * the key's claim lock. Rows a settle is writing are waited for, not skipped (SKIP LOCKED here could skip the
 * head and hand out the event behind it).
 */
const RUN = `SELECT d.id, d.route, d.connector, d.attempts, d.next_attempt_at, e.body, d.budget_from, d.replay
   FROM deliveries d JOIN events e ON e.seq = d.event_seq
  WHERE d.connector = $1 AND d.order_key = $2 AND d.status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM deliveries l WHERE l.connector = $1 AND l.order_key = $2 AND l.status = 'pending' AND l.lease_until > $3)
  ORDER BY d.id LIMIT $4 FOR UPDATE OF d`;

/**
 * Only while the lease is still this one: a lapsed lease nobody took over still counts (the send it reports
 * was the only one); one claimed again has another token. Settling ends the lease, so the call's next
 * delivery becomes claimable once this transaction commits.
 */
const settleOne = (set: string, extra: number) => `WITH settled AS (
    UPDATE deliveries SET ${set}, attempts = attempts + 1, updated_at = $3, lease_token = NULL, lease_until = NULL
     WHERE id = $1 AND lease_token = $2 AND status = 'pending'
     RETURNING id)
  INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms)
  SELECT id, $${extra + 4}::bigint, $${extra + 5}, $${extra + 6}, $${extra + 7}::integer FROM settled`;

/**
 * The outbox as the dispatcher drives it. Unlike the SQLite store's, leases
 * live in the rows (`lease_token`, `lease_until`): every replica dispatches,
 * and a replica that dies mid-send releases its deliveries when their lease
 * lapses. A claim and a settle are each a transaction, run again after a deadlock.
 */
export function createPostgresOutbox(pool: pg.Pool): OutboxAdapter {
  return {
    claimWrites: true,
    claim: (connector, now, options) => retryingContention(() => inTransaction(pool, (client) => claim(client, connector, now, options))),
    settle: (outcomes, now) => retryingContention(() => inTransaction(pool, (client) => settle(client, outcomes, now))),
    nextDueAt: (connector) => deliveryQueries.nextDueAt(pool, connector),
    connectorHealth: () => healthQueries.all(pool),
    recordHealth: (next, now) => retryingContention(() => healthQueries.record(pool, next, now)),
  };
}

async function claim(client: pg.PoolClient, connector: string, now: number, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (await deliveryQueries.isPaused(client, connector)) return [];
  const perCall = Math.max(1, options.maxPerCall);
  const { rows: heads } = await client.query<{ order_key: string }>(CANDIDATE_KEYS, [connector, now, options.limit]);
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
  await client.query('UPDATE deliveries SET lease_token = $1, lease_until = $2 WHERE id = ANY($3::bigint[])', [token, now + options.leaseMs, rows.map((row) => row.id)]);
  return rows.map((row) => claimedFromRow(row, token));
}

/** The run of due deliveries at the head of one ordering key (see `RUN`), up to `limit`. */
async function runOf(client: pg.PoolClient, connector: string, orderKey: string, now: number, limit: number): Promise<RunRow[]> {
  const { rows } = await client.query<RunRow>(RUN, [connector, orderKey, now, limit]);
  const due: RunRow[] = [];
  for (const row of rows) {
    if (row.next_attempt_at > now) break;
    due.push(row);
  }
  return due;
}

async function settle(client: pg.PoolClient, outcomes: readonly DeliveryOutcome[], now: number): Promise<SettleResult> {
  const refused: number[] = [];
  let written = 0;
  for (const outcome of outcomes) {
    if (outcome.outcome === 'held') {
      const { rowCount } = await client.query(SETTLE_HELD, [outcome.id, outcome.lease, outcome.error, now]);
      if (rowCount) written += 1;
      else refused.push(outcome.id);
      continue;
    }
    const attempt = attemptOf(outcome, now);
    const extra = outcome.outcome === 'delivered' ? [] : outcome.outcome === 'skipped' ? [outcome.reason] : outcome.outcome === 'retry' ? [outcome.at, outcome.error] : [outcome.error];
    const { rowCount } = await client.query(settleOne(OUTCOME_SETS[outcome.outcome], extra.length), [
      outcome.id,
      outcome.lease,
      now,
      ...extra,
      attempt.at,
      outcome.outcome,
      attempt.note,
      attempt.durationMs,
    ]);
    if (rowCount) written += 1;
    else refused.push(outcome.id);
  }
  return { written, refused };
}
