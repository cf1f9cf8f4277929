import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { missedCheckDue, NOT_DUE, planMissed, planSummary, summaryDue, summaryRequests } from '../../src/lifecycle/call-checks.js';
import type { CallState, CommitRequest, CommitResult, RouteTarget } from '../../src/lifecycle/types.js';

/**
 * The rules every store applies to a call's two checks, as pure functions with
 * no store: when a check is due, and what a verdict and its commits decide.
 * The store contract (store.ts beside this file) holds each store to them
 * through its interface.
 */

const T0 = Date.parse('2026-03-01T12:00:00Z');
const TO_SINK: readonly RouteTarget[] = [{ route: 'all', connector: 'sink' }];
const STORED: CommitResult = { duplicate: false, targets: TO_SINK };
const TAKEN: CommitResult = { duplicate: true };

function call(fields: Partial<CallState> = {}): CallState {
  return { source: 'audian/main', callId: 'call-1', answered: false, ...fields };
}

function request(id: string, type: string, data: Record<string, unknown> = {}): CommitRequest {
  const event: CanonicalEvent = {
    specversion: '1.0',
    id,
    source: 'audian/main',
    type,
    subject: 'call-1',
    time: new Date(T0).toISOString(),
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data,
  };
  return { event, receivedAt: T0, advance: () => ({ event, targets: TO_SINK }) };
}

describe('when a check is due', () => {
  it('a missed-call check is due once its grace is over, not before; no call or no check pending is never due', () => {
    expect(missedCheckDue(call({ missedCheckAt: T0 }), T0 - 1)).toBe(false);
    expect(missedCheckDue(call({ missedCheckAt: T0 }), T0)).toBe(true);
    expect(missedCheckDue(call({ missedCheckAt: T0 }), T0 + 1)).toBe(true);
    expect(missedCheckDue(call(), T0)).toBe(false);
    expect(missedCheckDue(call({ missed: 'not_missed' }), T0)).toBe(false);
    expect(missedCheckDue(undefined, T0)).toBe(false);
  });

  it('a summary is due at its check time, not before; a call without one pending is never due', () => {
    expect(summaryDue(call({ summaryCheckAt: T0 }), T0 - 1)).toBe(false);
    expect(summaryDue(call({ summaryCheckAt: T0 }), T0)).toBe(true);
    expect(summaryDue(call({ summaryRevision: 2 }), T0)).toBe(false);
    expect(summaryDue(undefined, T0)).toBe(false);
    // The two checks are independent.
    expect(summaryDue(call({ missedCheckAt: T0 }), T0)).toBe(false);
    expect(missedCheckDue(call({ summaryCheckAt: T0 }), T0)).toBe(false);
  });

  it('nothing to decide answers not_due', () => {
    expect(NOT_DUE).toEqual({ outcome: 'not_due' });
  });
});

describe('the missed-call decision', () => {
  const missed = request('evt-end.missed', 'call.missed');

  it('a committed call.missed is emitted, and needs no write of its own (its commit advanced the call)', () => {
    expect(planMissed(missed, STORED)).toEqual({ decision: { outcome: 'emitted', event: missed.event, targets: TO_SINK } });
  });

  it('no call.missed asked for: not missed, and the check ends', () => {
    expect(planMissed(undefined, undefined)).toEqual({ decision: { outcome: 'not_missed' }, end: { check: 'missed' } });
  });

  it('a duplicate is not missed: a derived id already taken ends the check as not missed, so it does not stay due', () => {
    expect(planMissed(missed, TAKEN)).toEqual({ decision: { outcome: 'duplicate' }, end: { check: 'missed' } });
  });
});

describe('the summary decision', () => {
  const transcript = request('call-1.transcript.2', 'transcript.completed');
  const summary = request('call-1.summary.2', 'call.summary', { revision: 2 });
  const derived = { companions: [transcript], summary };

  it('commits the companions first and the summary last', () => {
    expect(summaryRequests(derived)).toEqual([transcript, summary]);
    expect(summaryRequests({ companions: [], summary })).toEqual([summary]);
  });

  it('the last committed is the summary: emitted, with every event committed and their targets', () => {
    expect(planSummary(derived, [STORED, STORED])).toEqual({
      decision: { outcome: 'emitted', events: [transcript.event, summary.event], targets: [...TO_SINK, ...TO_SINK] },
    });
  });

  it('a companion already stored is left out, and the summary is still emitted', () => {
    expect(planSummary(derived, [TAKEN, STORED])).toEqual({ decision: { outcome: 'emitted', events: [summary.event], targets: TO_SINK } });
  });

  it('a summary id already taken ends the check at its revision, whatever the companions did', () => {
    expect(planSummary(derived, [STORED, TAKEN])).toEqual({ decision: { outcome: 'duplicate' }, end: { check: 'summary', revision: 2 } });
    expect(planSummary(derived, [TAKEN, TAKEN])).toEqual({ decision: { outcome: 'duplicate' }, end: { check: 'summary', revision: 2 } });
  });

  it('a taken summary without a readable revision ends the check at revision 0', () => {
    const unnumbered = { companions: [], summary: request('call-1.summary.x', 'call.summary', { revision: 'x' }) };
    expect(planSummary(unnumbered, [TAKEN])).toEqual({ decision: { outcome: 'duplicate' }, end: { check: 'summary', revision: 0 } });
  });

  it('nothing to summarize ends the check at revision 0', () => {
    expect(planSummary(undefined, [])).toEqual({ decision: { outcome: 'none' }, end: { check: 'summary', revision: 0 } });
  });
});
