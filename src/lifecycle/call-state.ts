import type { CanonicalEvent } from '../dialects/index.js';
import { DERIVED_TYPES } from './summary.js';
import type { CallState } from './types.js';

export type { CallState };

export interface LifecycleOptions {
  /** How long after the ending event to wait for a late `call.answered` before calling the call missed. */
  readonly graceMs: number;
  /** How to treat a call whose direction never became known. */
  readonly unknownDirection: 'inbound' | 'outbound';
  /** How long after its first event a call that never ends gets a summary anyway (disposition `unknown`): `lifecycle.max_call_age`. */
  readonly maxCallAgeMs: number;
}

const ENDING = new Set(['call.completed', 'call.failed', 'call.cancelled']);
const ANSWERING = new Set(['call.answered', 'call.bridged']);
/** `call.failed` reasons that mean nobody picked up, as opposed to a broken call (seed 001). */
const MISSED_FAILURE_REASONS = new Set(['no_answer', 'busy', 'declined']);
const STATUS_RANK: Readonly<Record<string, number>> = {
  initiated: 1,
  ringing: 2,
  answered: 3,
  completed: 4,
  failed: 4,
  cancelled: 4,
};

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function endReason(event: CanonicalEvent, answered: boolean): string {
  if (event.type === 'call.cancelled') return 'cancelled';
  if (event.type === 'call.failed') return text(event.data.reason) ?? 'failed';
  return answered ? 'completed' : 'unanswered';
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Whether an ending payload itself says the call was answered: seed 003's
 * `call.completed` carries `answered_at` and `duration_billable` (billing
 * starts at the answer). Subscribers that skip `call.answered` rely on this.
 */
function endingSaysAnswered(event: CanonicalEvent): boolean {
  return text(event.data.answered_at) !== undefined || (seconds(event.data.duration_billable) ?? 0) > 0;
}

function couldBeMissed(event: CanonicalEvent): boolean {
  if (event.type === 'call.failed') return MISSED_FAILURE_REASONS.has(String(event.data.reason));
  return event.type === 'call.completed' || event.type === 'call.cancelled';
}

/** True for the events that change a call's row: every event about a call (recordings and IVR input too, for its summary). */
export function concernsCall(event: CanonicalEvent): boolean {
  return event.subject !== undefined;
}

/**
 * The call's row after `event`; pure. Events may arrive in any order: fields
 * are filled when missing, the status only moves forward, and an answer that
 * arrives after the end still counts (it cancels the pending missed-call check).
 */
export function advanceCall(
  previous: CallState | undefined,
  event: CanonicalEvent,
  eventKey: string,
  receivedAt: number,
  options: LifecycleOptions,
): CallState {
  const call = event.data.call;
  const next: CallState = previous
    ? { ...previous }
    : { source: event.source, callId: event.subject as string, answered: false };
  next.direction ??= call?.direction;
  next.from ??= call?.from;
  next.to ??= call?.to;
  next.fromName ??= call?.from_name;
  const tags = event.data.tags;
  if (next.tags === undefined && typeof tags === 'object' && tags !== null && !Array.isArray(tags)) {
    next.tags = tags as Record<string, unknown>;
  }

  const status = call?.status;
  if (status && (STATUS_RANK[status] ?? 0) > (STATUS_RANK[next.status ?? ''] ?? 0)) next.status = status;
  if ((event.type === 'call.initiated' || event.type === 'call.ringing') && (!next.startedAt || event.time < next.startedAt)) {
    next.startedAt = event.time;
  }
  if (ANSWERING.has(event.type) || (ENDING.has(event.type) && endingSaysAnswered(event))) next.answered = true;

  if (ENDING.has(event.type) && next.endedAt === undefined) {
    next.endedAt = event.time;
    next.endEventKey = eventKey;
    next.endReason = endReason(event, next.answered);
    if (next.missed === undefined) {
      if (couldBeMissed(event) && !next.answered) next.missedCheckAt = receivedAt + options.graceMs;
      // Decided at once: a broken call (invalid_number, network_error, ...) or an answered one is never missed.
      else next.missed = 'not_missed';
    }
  }
  if (event.type === 'call.missed') {
    next.missed = 'emitted';
    next.missedCheckAt = undefined;
  }
  // A late answer, inside the grace period, decides the call: not missed.
  if (next.answered && next.missedCheckAt !== undefined) {
    next.missedCheckAt = undefined;
    next.missed = 'not_missed';
  }
  scheduleSummary(next, event, receivedAt, options);
  return next;
}

/**
 * When the call's next `call.summary` revision falls due. An ended call (or
 * one already summarized) is summarized once `graceMs` has passed without a
 * further event, so late events within it join the same revision; a call that
 * never ends is summarized `maxCallAgeMs` after its first event. A committed
 * summary records its revision and ends the wait; derived events never start one.
 */
function scheduleSummary(next: CallState, event: CanonicalEvent, receivedAt: number, options: LifecycleOptions): void {
  if (event.type === 'call.summary') {
    const revision = typeof event.data.revision === 'number' ? event.data.revision : 1;
    next.summaryRevision = Math.max(next.summaryRevision ?? 0, revision);
    next.summaryCheckAt = undefined;
    return;
  }
  if (DERIVED_TYPES.has(event.type)) return;
  if (next.endedAt !== undefined || next.summaryRevision !== undefined) next.summaryCheckAt = receivedAt + options.graceMs;
  else next.summaryCheckAt ??= receivedAt + options.maxCallAgeMs;
}

/** Fills `data.call` from what earlier events of the call told (a `call.failed` carries no direction). */
export function enrichEvent(event: CanonicalEvent, state: CallState): void {
  const call = (event.data.call ??= { id: state.callId });
  if (call.direction === undefined && state.direction) call.direction = state.direction;
  if (call.from === undefined && state.from) call.from = state.from;
  if (call.to === undefined && state.to) call.to = state.to;
  if (call.from_name === undefined && state.fromName) call.from_name = state.fromName;
  if (call.status === undefined && state.status) call.status = state.status;
}

/** Whether the ended call counts as missed once its grace period is over. */
export function isMissed(state: CallState, options: LifecycleOptions): boolean {
  if (state.answered || state.missed !== undefined || state.endedAt === undefined) return false;
  return (state.direction ?? options.unknownDirection) === 'inbound';
}

/** The derived `call.missed` event; its id derives from the ending event's, so it is deduped like any event. */
export function buildMissedEvent(state: CallState, ending: CanonicalEvent): CanonicalEvent {
  const ringSeconds =
    state.startedAt && state.endedAt
      ? Math.max(0, Math.round((Date.parse(state.endedAt) - Date.parse(state.startedAt)) / 1000))
      : // Without an initiated/ringing event, an unanswered call's `duration` is its ring time (seed 003 `call.failed`).
        seconds(ending.data.duration);
  const data: CanonicalEvent['data'] = {
    call_id: state.callId,
    ...(state.from ? { from: state.from } : {}),
    ...(state.fromName ? { from_name: state.fromName } : {}),
    ...(state.to ? { to: state.to } : {}),
    call_type: state.direction ?? 'unknown',
    reason: state.endReason ?? 'unanswered',
    ...(ringSeconds !== undefined ? { ring_duration: ringSeconds } : {}),
    ...(state.startedAt ? { started_at: state.startedAt } : {}),
    ended_at: state.endedAt,
    ending_event: { id: ending.id, type: ending.type },
    ...(state.tags ? { tags: state.tags } : {}),
    call: {
      id: state.callId,
      ...(state.direction ? { direction: state.direction } : {}),
      ...(state.from ? { from: state.from } : {}),
      ...(state.to ? { to: state.to } : {}),
      ...(state.fromName ? { from_name: state.fromName } : {}),
      status: 'missed',
    },
  };
  return {
    specversion: '1.0',
    id: `${ending.id}.missed`,
    source: ending.source,
    type: 'call.missed',
    subject: state.callId,
    time: ending.time,
    datacontenttype: 'application/json',
    dialect: ending.dialect,
    test: ending.test,
    ...(ending.account ? { account: ending.account } : {}),
    data,
  };
}
