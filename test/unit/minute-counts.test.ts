import { describe, expect, it } from 'vitest';
import type { Activity } from '../../src/ops/activity.js';
import { createMinuteCounts } from '../../src/ops/minute-counts.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

const accepted = (at: number): Activity => ({ kind: 'webhook', at, source: 'main', outcome: 'accepted', type: 'call.initiated' });
const rejected = (at: number, code: string): Activity => ({ kind: 'webhook', at, source: 'main', outcome: 'rejected', code });
const attempt = (at: number, connector: string, outcome: 'delivered' | 'retry' | 'dead' | 'skipped'): Activity => ({
  kind: 'delivery', at, connector, route: 'all', deliveryId: 1, eventId: 'e', type: 'call.initiated', callId: 'c', attempt: 1, outcome, latencyMs: 5,
});

describe('per-minute counts', () => {
  it('totals the last hour: webhooks by outcome, rejections by code, attempts per connector', () => {
    const counts = createMinuteCounts();
    for (const activity of [
      accepted(T0), accepted(T0 + 1), { ...accepted(T0 + 2), outcome: 'duplicate' } as Activity,
      rejected(T0, 'SIGNATURE_MISMATCH'), rejected(T0 + 5, 'SIGNATURE_MISMATCH'), rejected(T0, 'INVALID_JSON'),
      attempt(T0, 'crm', 'delivered'), attempt(T0, 'crm', 'retry'), attempt(T0, 'crm', 'dead'), attempt(T0, 'kafka', 'delivered'), attempt(T0, 'kafka', 'skipped'),
    ]) counts.record(activity);
    expect(counts.lastHour(T0 + 30 * MINUTE)).toEqual({
      accepted: 2,
      duplicate: 1,
      rejected: { SIGNATURE_MISMATCH: 2, INVALID_JSON: 1 },
      connectors: { crm: { delivered: 1, failed: 2 }, kafka: { delivered: 1, failed: 0 } },
    });
  });

  it('forgets what is older than the hour in the hour\'s totals, and older than a day everywhere', () => {
    const counts = createMinuteCounts();
    counts.record(accepted(T0));
    expect(counts.lastHour(T0 + 59 * MINUTE).accepted).toBe(1);
    expect(counts.lastHour(T0 + 60 * MINUTE).accepted).toBe(0);
    expect(counts.series('day', T0 + 23 * 60 * MINUTE).buckets.reduce((sum, bucket) => sum + bucket.accepted, 0)).toBe(1);
    // A day later the same slot serves another minute: the old count is gone, not added to.
    counts.record(accepted(T0 + 24 * 60 * MINUTE));
    expect(counts.series('day', T0 + 24 * 60 * MINUTE).buckets.reduce((sum, bucket) => sum + bucket.accepted, 0)).toBe(1);
  });

  it('gives per-minute bars over the hour and per-hour bars over the day, oldest first', () => {
    const counts = createMinuteCounts();
    const now = T0 + 10 * 60 * MINUTE + 30_000;
    counts.record(accepted(now));
    counts.record(accepted(now - MINUTE));
    counts.record(attempt(now - MINUTE, 'crm', 'retry'));
    counts.record(accepted(now - 3 * 60 * MINUTE));
    const hour = counts.series('hour', now);
    expect(hour.stepMs).toBe(MINUTE);
    expect(hour.buckets).toHaveLength(60);
    expect(hour.buckets.at(-1)).toMatchObject({ at: Math.floor(now / MINUTE) * MINUTE, accepted: 1 });
    expect(hour.buckets.at(-2)).toMatchObject({ accepted: 1, failed: 1 });
    expect(hour.buckets.reduce((sum, bucket) => sum + bucket.accepted, 0)).toBe(2);
    const day = counts.series('day', now);
    expect(day.stepMs).toBe(60 * MINUTE);
    expect(day.buckets).toHaveLength(24);
    expect(day.buckets.reduce((sum, bucket) => sum + bucket.accepted, 0)).toBe(3);
    expect(day.buckets.at(-1)!.accepted + day.buckets.at(-2)!.accepted).toBe(2);
  });

  it('keeps its memory bounded: a flood of new codes in one minute is counted, under OTHER past the cap', () => {
    const counts = createMinuteCounts();
    for (let index = 0; index < 10_000; index++) counts.record(rejected(T0, `CODE_${index}`));
    const totals = counts.lastHour(T0);
    expect(Object.values(totals.rejected).reduce((sum, n) => sum + n, 0)).toBe(10_000);
    expect(Object.keys(totals.rejected).length).toBeLessThanOrEqual(65);
    expect(totals.rejected.OTHER).toBeGreaterThan(0);
  });
});
