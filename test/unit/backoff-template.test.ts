import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { exponentialSchedule } from '../../src/config/schema.js';
import { decideRetry } from '../../src/dispatch/retry.js';
import { compileTemplate } from '../../src/template.js';
import { parseRetryAfter } from '../../connectors/retry-after.js';

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

describe('templates', () => {
  const event = { type: 'call.missed', subject: 'a/b c', data: { call: { id: 'a/b c', from: '+1 555' }, n: 3 } } as unknown as CanonicalEvent;
  it('fills {attribute} and {data.path}, encoding values when asked', () => {
    expect(compileTemplate('audian.{type}').render(event)).toEqual({ ok: true, value: 'audian.call.missed' });
    expect(compileTemplate('/calls/{subject}/{data.call.from}?n={data.n}', encodeURIComponent).render(event)).toEqual({ ok: true, value: '/calls/a%2Fb%20c/%2B1%20555?n=3' });
    expect(compileTemplate('{{literal}} {type}').render(event)).toEqual({ ok: true, value: '{literal} call.missed' });
  });
  it('reports placeholders without a value instead of sending "undefined"', () => {
    expect(compileTemplate('/x/{data.missing}/{account}').render(event)).toEqual({ ok: false, missing: ['data.missing', 'account'] });
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates; ignores garbage', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(new Date(now + 10_000).toUTCString(), now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
