import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../connectors/retry-after.js';

describe('Retry-After', () => {
  it('reads seconds and HTTP dates; ignores garbage', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(new Date(now + 10_000).toUTCString(), now)).toBe(10_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
