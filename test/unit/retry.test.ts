import { describe, expect, it } from 'vitest';
import { exponentialSchedule } from '../../src/config/schema.js';
import { decideRetry } from '../../src/dispatch/retry.js';

describe('exponential backoff (retry_initial / retry_max as a schedule)', () => {
  const policy = { schedule: exponentialSchedule(1000, 60_000), maxAgeMs: 1e12 };
  const backoffDelay = (attempt: number, random: number) => {
    const decision = decideRetry(policy, { attempt, since: 0, at: 0 }, random);
    if (!decision.retry) throw new Error('gave up');
    return decision.at;
  };
  it('doubles per attempt between half and all of the ceiling, capped at max', () => {
    expect(policy.schedule).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000]);
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(attempt, 0.999999))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(30, 0.5)).toBe(45_000);
    expect(backoffDelay(1000, 1)).toBeLessThanOrEqual(60_000);
  });
});
