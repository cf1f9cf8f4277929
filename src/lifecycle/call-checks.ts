import type { CanonicalEvent } from '../dialects/index.js';
import type { CallState, CommitRequest, CommitResult, MissedDecision, RouteTarget, SummaryCommit, SummaryDecision } from './types.js';

/**
 * The two checks a call can have pending, each decided once: whether the call
 * was missed (once its grace period is over) and its next summary revision.
 * The store reads the call under its lock and asks these rules what follows
 * from what it read; the rules answer with a decision and, where the check
 * ends without a derived event, the write that ends it, as data. No clock,
 * no I/O: the store applies the write.
 */

/** A write that ends a call's pending check without the event it would have derived. */
export type CheckEnd =
  /** The call was not missed: its check ends, and the call records "not missed". */
  | { readonly check: 'missed' }
  /** The summary check ends; the call's summary revision becomes at least `revision` (the one whose id was taken, or 0). */
  | { readonly check: 'summary'; readonly revision: number };

/** What a decision answers, and the write that ends the check, where one is needed. */
export interface CheckPlan<Decision> {
  readonly decision: Decision;
  readonly end?: CheckEnd;
}

/** The answer when there is nothing to decide: no such call, no check pending, not due yet, or decided already. */
export const NOT_DUE = { outcome: 'not_due' } as const;

const END_MISSED: CheckEnd = { check: 'missed' };

/** Whether the call's missed-call check is due at `now`: the call exists, a check is pending, and its grace is over. */
export function missedCheckDue(call: CallState | undefined, now: number): call is CallState {
  return call?.missedCheckAt !== undefined && call.missedCheckAt <= now;
}

/** Whether the call's next summary is due at `now`. */
export function summaryDue(call: CallState | undefined, now: number): call is CallState {
  return call?.summaryCheckAt !== undefined && call.summaryCheckAt <= now;
}

/**
 * After the missed-call verdict: `derived` is the `call.missed` it asked for
 * (none: not missed), `committed` what its commit answered. Committing
 * `call.missed` advances the call to "emitted" like any event, so only the
 * other outcomes end the check with a write. A derived id already taken is a
 * duplicate, not a missed call, and ends the check too, or it would stay due
 * for ever.
 */
export function planMissed(derived: CommitRequest | undefined, committed: CommitResult | undefined): CheckPlan<MissedDecision> {
  if (derived && committed && !committed.duplicate) return { decision: { outcome: 'emitted', event: derived.event, targets: committed.targets } };
  return { decision: derived ? { outcome: 'duplicate' } : { outcome: 'not_missed' }, end: END_MISSED };
}

/**
 * What a summary verdict commits, in this order: its companions first, so
 * that if the process dies before the summary the check is still due and they
 * dedupe next time; the summary last, whose commit records its revision and
 * ends the check.
 */
export function summaryRequests(derived: SummaryCommit): CommitRequest[] {
  return [...derived.companions, derived.summary];
}

/**
 * After the summary verdict: `results` answers each of `summaryRequests(derived)`.
 * The summary counts as emitted only when it was committed itself, the last of
 * the events committed; a companion's duplicate is ignored. A summary id
 * already taken ends the check at that revision (its `data.revision`), or it
 * would stay due for ever; no verdict ends it at revision 0.
 */
export function planSummary(derived: SummaryCommit | undefined, results: readonly CommitResult[]): CheckPlan<SummaryDecision> {
  if (!derived) return { decision: { outcome: 'none' }, end: { check: 'summary', revision: 0 } };
  const requests = summaryRequests(derived);
  const events: CanonicalEvent[] = [];
  const targets: RouteTarget[] = [];
  results.forEach((result, index) => {
    if (result.duplicate) return;
    events.push((requests[index] as CommitRequest).event);
    targets.push(...result.targets);
  });
  if (events.at(-1) === derived.summary.event) return { decision: { outcome: 'emitted', events, targets } };
  return { decision: { outcome: 'duplicate' }, end: { check: 'summary', revision: Number(derived.summary.event.data.revision) || 0 } };
}
