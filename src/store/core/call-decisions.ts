import { missedCheckDue, NOT_DUE, planMissed, planSummary, summaryDue, summaryRequests, type CheckPlan } from '../../lifecycle/call-checks.js';
import type { CallKey, MissedDecision, MissedVerdict, SummaryDecision, SummaryVerdict } from '../../lifecycle/types.js';
import type { IngestStore } from '../types.js';
import type { CallsAdapter, LockedCall } from './adapter.js';
import type { Availability } from './availability.js';

/**
 * The decisions of a call's checks, the same on every database: under the
 * call's lock, the call as read there decides whether a check is due, the
 * verdict what to derive, and the rules (src/lifecycle/call-checks.ts) what
 * the commits of it mean and what still has to be written. Of any number of
 * callers (or replicas) asking at once, the first decides and the others find
 * the check decided.
 */
export function createCallDecisions(calls: CallsAdapter, store: Availability): Pick<IngestStore, 'decideMissed' | 'decideSummary'> {
  return {
    decideMissed(key: CallKey, now: number, verdict: MissedVerdict): Promise<MissedDecision> {
      return store.write('decide a missed call', () =>
        calls.withCall(key, now, async (state, call): Promise<MissedDecision> => {
          if (!missedCheckDue(state, now)) return NOT_DUE;
          const ending = state.endEventKey === undefined ? undefined : await call.event(state.endEventKey);
          const derived = await verdict(state, ending);
          const [committed] = derived ? await call.commit([derived]) : [];
          return carryOut(call, planMissed(derived, committed));
        }),
      );
    },

    decideSummary(key: CallKey, now: number, verdict: SummaryVerdict): Promise<SummaryDecision> {
      return store.write('summarize a call', () =>
        calls.withCall(key, now, async (state, call): Promise<SummaryDecision> => {
          if (!summaryDue(state, now)) return NOT_DUE;
          const derived = await verdict(state, await call.events());
          const results = derived ? await call.commit(summaryRequests(derived)) : [];
          return carryOut(call, planSummary(derived, results));
        }),
      );
    },
  };
}

/** Writes what the plan still needs written, and answers its decision. */
async function carryOut<Decision>(call: LockedCall, plan: CheckPlan<Decision>): Promise<Decision> {
  if (plan.end) await call.end(plan.end);
  return plan.decision;
}
