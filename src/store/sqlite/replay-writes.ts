import { planBulkReplay, queuedOf, replayAudit, type AuditActor, type ReplayCandidate } from '../audit.js';
import type { BulkReplaySelection, DeliveryStatus, ReplayResult, ReplaySelection } from '../types.js';
import type { createAuditWrites } from './audit.js';
import type { Db } from './db.js';
import { OTHER_FILTERS, SHAPES, searchParamsOf, shapeOf, STATUS, STATUS_FILTER, type SearchParams } from './delivery-search.js';

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

/** A bulk replay's deliveries: the search's, up to the newest counted, in its statuses or changed since the count. */
const candidatesOf = (shape: keyof typeof SHAPES) =>
  SHAPES[shape](`d.id, ${STATUS} AS status, d.updated_at AS updatedAt`, `${OTHER_FILTERS} AND d.id <= @upTo
    AND (${STATUS_FILTER} OR (@asOf IS NOT NULL AND d.updated_at >= @asOf))`);

type CandidateParams = SearchParams & { upTo: number; asOf: number | null };

/**
 * An operator's replay (by ids, by the old filter of dead ones, or a bulk
 * replay of what a count showed) and its audit row, in one transaction on the
 * writer's connection (outbox-writes.ts).
 */
export function createReplayWrites(db: Db, audit: ReturnType<typeof createAuditWrites>) {
  const requeueDead = db.prepare(REQUEUE_DEAD);
  const resend = db.prepare(RESEND);
  const statusOf = db.prepare<[number], { status: DeliveryStatus }>('SELECT status FROM deliveries WHERE id = ?');
  const requeueMatching = db.prepare<[{ now: number; connector: string | null; route: string | null; since: number | null }], { id: number }>(REQUEUE_MATCHING);
  const candidates = {
    byEvent: db.prepare<[CandidateParams], ReplayCandidate>(candidatesOf('byEvent')),
    byCall: db.prepare<[CandidateParams], ReplayCandidate>(candidatesOf('byCall')),
    walk: db.prepare<[CandidateParams], ReplayCandidate>(candidatesOf('walk')),
  };

  function bulkReplay(selection: BulkReplaySelection, now: number): ReplayResult {
    const found = candidates[shapeOf(selection.search)].all({ ...searchParamsOf(selection.search), upTo: selection.upTo, asOf: selection.asOf ?? null });
    const plan = planBulkReplay(found, selection.search.statuses, selection.asOf);
    for (const id of plan.requeue) requeueDead.run({ id, now });
    for (const id of plan.resend) resend.run({ id, now });
    return { queued: queuedOf(plan), skipped: plan.skipped };
  }

  function byIds(ids: readonly number[], now: number): ReplayResult {
    const queued: number[] = [];
    const skipped: ReplayResult['skipped'][number][] = [];
    for (const id of new Set(ids)) {
      const status = statusOf.get(id)?.status;
      if (status === undefined) skipped.push({ id, reason: 'not_found' });
      else if (status === 'pending') skipped.push({ id, reason: 'pending' });
      else {
        (status === 'dead' ? requeueDead : resend).run({ id, now });
        queued.push(id);
      }
    }
    return { queued, skipped };
  }

  function replayOf(selection: ReplaySelection, now: number): ReplayResult {
    if ('search' in selection) return bulkReplay(selection, now);
    if ('ids' in selection) return byIds(selection.ids, now);
    const { connector, route, since } = selection.filter;
    const rows = requeueMatching.all({ now, connector: connector ?? null, route: route ?? null, since: since ?? null });
    return { queued: rows.map((row) => row.id), skipped: [] };
  }

  // Taken IMMEDIATE, as settle is: a replay reads the statuses it then changes, and in WAL mode
  // a read that turns into a write fails at once instead of waiting for the lock.
  const replayAll = db.transaction((selection: ReplaySelection, now: number, actor: AuditActor | undefined): ReplayResult => {
    const result = replayOf(selection, now);
    if (actor) audit.insert(replayAudit(selection, result, actor, now));
    return result;
  });

  return (selection: ReplaySelection, now: number, actor: AuditActor | undefined): ReplayResult => replayAll.immediate(selection, now, actor);
}
