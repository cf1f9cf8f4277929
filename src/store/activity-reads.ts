import type { CanonicalEvent } from '../dialects/index.js';
import type { Awaitable } from './core/availability.js';
import type { ActivityCursor, StoredActivity, StoredAttempt, StoredEvent } from './operator-reads.js';

/** An attempt as both stores read it. */
export interface AttemptRow {
  seq: number; delivery_id: number; at: number; outcome: StoredAttempt['outcome']; error: string | null; duration_ms: number | null;
  connector: string; route: string; event_id: string; type: string; source: string; subject: string | null; received_at: number;
}

export function attemptFromRow(row: AttemptRow): StoredAttempt {
  return {
    deliveryId: row.delivery_id, connector: row.connector, route: row.route, eventId: row.event_id, type: row.type, source: row.source,
    callId: row.subject, outcome: row.outcome, error: row.error, at: row.at, durationMs: row.duration_ms, receivedAt: row.received_at,
  };
}

/** An event as both stores read it. */
export interface EventRow {
  seq: number;
  body: string;
  received_at: number;
}

/** The read behind `activityAfter` (src/store/operator-reads.ts), on each store's three statements. */
export async function readActivity(
  after: ActivityCursor | undefined,
  limit: number,
  reads: {
    end(): Awaitable<ActivityCursor>;
    events(after: number, limit: number): Awaitable<EventRow[]>;
    attempts(after: number, limit: number): Awaitable<AttemptRow[]>;
  },
): Promise<StoredActivity> {
  if (after === undefined) {
    const end = await reads.end();
    return { events: [], attempts: [], cursor: { event: Number(end.event), attempt: Number(end.attempt) } };
  }
  const [events, attempts] = [await reads.events(after.event, limit), await reads.attempts(after.attempt, limit)];
  return {
    events: events.map((row): StoredEvent => ({ event: JSON.parse(row.body) as CanonicalEvent, receivedAt: row.received_at })),
    attempts: attempts.map(attemptFromRow),
    cursor: { event: Number(events.at(-1)?.seq ?? after.event), attempt: Number(attempts.at(-1)?.seq ?? after.attempt) },
  };
}
