import type { CanonicalEvent } from '../dialects/index.js';
import type { CallState, ClaimedDelivery, DeliveryOutcome, DeliveryRecord, DeliveryStatus } from './types.js';

/**
 * The rows of the SQL stores' `calls` and `deliveries` tables as read, and
 * what the interface makes of them: one mapping, whichever database read them.
 */
export interface CallRow {
  source: string;
  call_id: string;
  direction: string | null;
  from_number: string | null;
  to_number: string | null;
  from_name: string | null;
  status: string | null;
  tags: string | null;
  started_at: string | null;
  /** SQLite has no boolean type: 0 or 1 there. */
  answered: boolean | number;
  ended_at: string | null;
  end_reason: string | null;
  missed_check_at: number | null;
  missed: 'emitted' | 'not_missed' | null;
  end_event_key: string | null;
  summary_check_at: number | null;
  summary_revision: number | null;
}

export function callFromRow(row: CallRow): CallState {
  const state: CallState = { source: row.source, callId: row.call_id, answered: row.answered === true || row.answered === 1 };
  if (row.direction !== null) state.direction = row.direction;
  if (row.from_number !== null) state.from = row.from_number;
  if (row.to_number !== null) state.to = row.to_number;
  if (row.from_name !== null) state.fromName = row.from_name;
  if (row.status !== null) state.status = row.status;
  if (row.tags !== null) state.tags = JSON.parse(row.tags) as Record<string, unknown>;
  if (row.started_at !== null) state.startedAt = row.started_at;
  if (row.ended_at !== null) state.endedAt = row.ended_at;
  if (row.end_event_key !== null) state.endEventKey = row.end_event_key;
  if (row.end_reason !== null) state.endReason = row.end_reason;
  if (row.missed_check_at !== null) state.missedCheckAt = row.missed_check_at;
  if (row.missed !== null) state.missed = row.missed;
  if (row.summary_check_at !== null) state.summaryCheckAt = row.summary_check_at;
  if (row.summary_revision !== null) state.summaryRevision = row.summary_revision;
  return state;
}

export interface RecordRow {
  id: number; event_id: string; type: string; source: string; subject: string | null; route: string; connector: string;
  status: DeliveryStatus; attempts: number; next_attempt_at: number; last_error: string | null; created_at: number;
  updated_at: number; replay: number; skip_reason: string | null;
}

export function recordFromRow(row: RecordRow): DeliveryRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    type: row.type,
    route: row.route,
    connector: row.connector,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    ...(row.skip_reason !== null ? { skipReason: row.skip_reason } : {}),
    updatedAt: row.updated_at,
    createdAt: row.created_at,
    source: row.source,
    callId: row.subject,
    replay: row.replay,
  };
}

/** The columns a claim reads of a pending delivery and its event. */
export interface ClaimedRow {
  id: number; route: string; connector: string; attempts: number; body: string; budget_from: number; replay: number;
}

/** A delivery as its claim hands it out, under the claim's `lease`. */
export function claimedFromRow(row: ClaimedRow, lease: string): ClaimedDelivery {
  return {
    id: row.id,
    route: row.route,
    connector: row.connector,
    attempts: row.attempts,
    since: row.budget_from,
    replay: row.replay,
    event: JSON.parse(row.body) as CanonicalEvent,
    lease,
  };
}

/** The attempt an outcome records: when it started, how long it took, and its note (a skip's reason, a failure's error). */
export function attemptOf(outcome: DeliveryOutcome, now: number): { at: number; durationMs: number | null; note: string | null } {
  const durationMs = outcome.durationMs === undefined ? null : Math.round(outcome.durationMs);
  const note = outcome.outcome === 'delivered' ? null : outcome.outcome === 'skipped' ? outcome.reason : outcome.error;
  return { at: now - (durationMs ?? 0), durationMs, note };
}
