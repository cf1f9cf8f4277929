import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { createOutcomeJudge } from '../../src/dispatch/outcomes.js';
import type { RetryPolicy } from '../../src/dispatch/retry.js';
import { permanent, retriable, sent, skipped } from '../../src/sdk/index.js';
import type { ClaimedDelivery } from '../../src/store/index.js';

/** What the dispatcher makes of one attempt's result (src/dispatch/outcomes.ts), without a store or a connector. */

const T0 = Date.parse('2026-03-01T12:00:00Z');
const POLICY: RetryPolicy = { schedule: [100, 200, 400], maxAgeMs: 10_000, maxAttempts: 3 };
const judge = createOutcomeJudge({ connector: 'crm', policy: POLICY, log: pino({ level: 'silent' }), random: () => 0.5 });

function claimed(attempts: number, since = T0): ClaimedDelivery {
  const event: CanonicalEvent = {
    specversion: '1.0', id: 'evt-1', source: 'audian/main', type: 'call.ringing', subject: 'call-1',
    time: new Date(T0).toISOString(), datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data: {},
  };
  return { id: 7, route: 'all', connector: 'crm', attempts, since, replay: 0, event, lease: 'lease-1' };
}

describe('the outcome of one attempt', () => {
  it('a sent delivery is delivered; a skipped one is final with its reason', () => {
    expect(judge(claimed(0), sent, T0, 12, false)).toEqual({ id: 7, lease: 'lease-1', outcome: 'delivered', durationMs: 12 });
    expect(judge(claimed(0), skipped('older than the last update'), T0, 3, false)).toEqual({
      id: 7, lease: 'lease-1', outcome: 'skipped', reason: 'older than the last update', durationMs: 3,
    });
  });

  it('a retriable failure is retried on the schedule (half to all of the step, by the random draw)', () => {
    expect(judge(claimed(0), retriable('503'), T0, 5, false)).toEqual({ id: 7, lease: 'lease-1', outcome: 'retry', at: T0 + 75, error: '503', durationMs: 5 });
    expect(judge(claimed(1), retriable('503'), T0, 5, false)).toMatchObject({ outcome: 'retry', at: T0 + 150 });
  });

  it('a permanent failure is dead at once; a retriable one once its budget is spent', () => {
    expect(judge(claimed(0), permanent('400 bad request'), T0, 5, false)).toMatchObject({ outcome: 'dead', error: '400 bad request' });
    expect(judge(claimed(2), retriable('503'), T0, 5, false)).toMatchObject({ outcome: 'dead', error: '503' });
    expect(judge(claimed(0, T0 - 10_000), retriable('503'), T0, 5, false)).toMatchObject({ outcome: 'dead' });
  });

  it('no result for a delivery counts as a retriable failure', () => {
    expect(judge(claimed(0), undefined, T0, 5, false)).toMatchObject({ outcome: 'retry', error: 'the connector returned no result for this delivery' });
  });

  it('while the connector is paused nothing goes dead of a retriable failure: no attempt limit, and its age starts now', () => {
    expect(judge(claimed(2), retriable('503'), T0, 5, true)).toMatchObject({ outcome: 'retry' });
    expect(judge(claimed(0, T0 - 10_000), retriable('503'), T0, 5, true)).toMatchObject({ outcome: 'retry' });
    expect(judge(claimed(0), permanent('400'), T0, 5, true)).toMatchObject({ outcome: 'dead' });
  });
});
