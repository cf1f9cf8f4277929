import type { DeliveryOutcome, DeliveryStatus, ReplayResult, ReplaySelection } from '../types.js';
import { attemptOf } from '../rows.js';
import type { Db } from './db.js';

const INSERT = `INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at, budget_from)
  VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)`;

/** What each outcome writes to its delivery. A skipped delivery is stored as delivered with its reason (migration 5). */
const OUTCOMES = {
  delivered: "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
  skipped: "UPDATE deliveries SET status = 'delivered', skip_reason = ?, attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
  retry: 'UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?',
  dead: "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
  // Its connector is down or held: no attempt counted, and none kept in the history.
  held: 'UPDATE deliveries SET last_error = ?, updated_at = ? WHERE id = ?',
} as const;


// A replayed delivery starts a fresh budget: no attempts counted, its age from now.
const REQUEUE_DEAD =
  "UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = @now, next_attempt_at = @now, updated_at = @now WHERE id = @id AND status = 'dead'";

const RESEND = `UPDATE deliveries SET status = 'pending', attempts = 0, replay = replay + 1, budget_from = @now, next_attempt_at = @now,
       last_error = NULL, skip_reason = NULL, updated_at = @now
 WHERE id = @id AND status = 'delivered'`;

const REQUEUE_MATCHING = `UPDATE deliveries SET status = 'pending', attempts = 0, budget_from = @now, next_attempt_at = @now, updated_at = @now
 WHERE status = 'dead' AND (@connector IS NULL OR connector = @connector) AND (@route IS NULL OR route = @route)
   AND (@since IS NULL OR created_at >= @since)
 RETURNING id`;

// Time spent paused never counts towards `max_age`, and what waited is due at once.
export const RESTART_BUDGETS = `UPDATE deliveries SET budget_from = MAX(budget_from, @now), next_attempt_at = MIN(next_attempt_at, @now)
 WHERE connector = @connector AND status = 'pending'`;

/**
 * The outbox's writes: new deliveries, outcomes, replays, pauses. They run
 * where the store's writes run (connection-writer.ts), on the writer thread's
 * connection in a serving process; the claims and reads are leases.ts and
 * outbox-reads.ts, on the reading connection.
 */
export function createOutboxWrites(db: Db) {
  const insert = db.prepare(INSERT);
  const outcome = { delivered: db.prepare(OUTCOMES.delivered), skipped: db.prepare(OUTCOMES.skipped), retry: db.prepare(OUTCOMES.retry), dead: db.prepare(OUTCOMES.dead), held: db.prepare(OUTCOMES.held) };
  const recordAttempt = db.prepare('INSERT INTO delivery_attempts (delivery_id, at, outcome, error, duration_ms) VALUES (?, ?, ?, ?, ?)');
  const requeueDead = db.prepare(REQUEUE_DEAD);
  const resend = db.prepare(RESEND);
  const statusOf = db.prepare<[number], { status: DeliveryStatus }>('SELECT status FROM deliveries WHERE id = ?');
  const requeueMatching = db.prepare<[{ now: number; connector: string | null; route: string | null; since: number | null }], { id: number }>(REQUEUE_MATCHING);
  const purgeDead = db.prepare("DELETE FROM deliveries WHERE status = 'dead' AND updated_at < @before AND (@connector IS NULL OR connector = @connector)");
  const pauseOne = db.prepare('INSERT INTO connector_pauses (connector, paused_at) VALUES (?, ?) ON CONFLICT (connector) DO NOTHING');
  const unpause = db.prepare('DELETE FROM connector_pauses WHERE connector = ?');
  const restartBudgets = db.prepare(RESTART_BUDGETS);

  // Taken IMMEDIATE, as settle is: a replay reads the statuses it then changes, and in WAL mode
  // a read that turns into a write fails at once instead of waiting for the lock.
  const replayAll = db.transaction((selection: ReplaySelection, now: number): ReplayResult => {
    if ('filter' in selection) {
      const { connector, route, since } = selection.filter;
      const rows = requeueMatching.all({ now, connector: connector ?? null, route: route ?? null, since: since ?? null });
      return { queued: rows.map((row) => row.id), skipped: [] };
    }
    const queued: number[] = [];
    const skipped: ReplayResult['skipped'][number][] = [];
    for (const id of new Set(selection.ids)) {
      const status = statusOf.get(id)?.status;
      if (status === undefined) skipped.push({ id, reason: 'not_found' });
      else if (status === 'pending') skipped.push({ id, reason: 'pending' });
      else {
        (status === 'dead' ? requeueDead : resend).run({ id, now });
        queued.push(id);
      }
    }
    return { queued, skipped };
  });

  const resumeOne = db.transaction((connector: string, now: number): boolean => {
    if (unpause.run(connector).changes === 0) return false;
    restartBudgets.run({ connector, now });
    return true;
  });

  const writeOutcomes = db.transaction((outcomes: readonly DeliveryOutcome[], now: number): void => {
    for (const settled of outcomes) {
      if (settled.outcome === 'held') {
        outcome.held.run(settled.error, now, settled.id);
        continue;
      }
      if (settled.outcome === 'delivered') outcome.delivered.run(now, settled.id);
      else if (settled.outcome === 'skipped') outcome.skipped.run(settled.reason, now, settled.id);
      else if (settled.outcome === 'retry') outcome.retry.run(settled.at, settled.error, now, settled.id);
      else outcome.dead.run(settled.error, now, settled.id);
      const attempt = attemptOf(settled, now);
      recordAttempt.run(settled.id, attempt.at, settled.outcome, attempt.note, attempt.durationMs);
    }
  });

  return {
    /** Must run inside the transaction that stored event `eventSeq`. */
    insert(eventSeq: number, route: string, connector: string, orderKey: string, now: number): void {
      insert.run(eventSeq, route, connector, orderKey, now, now, now, now);
    },
    /** Writes outcomes whose leases leases.ts `acceptOutcomes` accepted: the writer's part. */
    writeOutcomes: (outcomes: readonly DeliveryOutcome[], now: number): void => writeOutcomes.immediate(outcomes, now),
    replay: (selection: ReplaySelection, now: number): ReplayResult => replayAll.immediate(selection, now),
    purgeDead: (before: number, connector: string | undefined): number => purgeDead.run({ before, connector: connector ?? null }).changes,
    pause: (connector: string, now: number): boolean => pauseOne.run(connector, now).changes > 0,
    resume: (connector: string, now: number): boolean => resumeOne.immediate(connector, now),
  };
}
