import { describe, expect, it } from 'vitest';
import { createLogThrottle } from '../../src/http/log-throttle.js';

describe('createLogThrottle', () => {
  it('lets the first line through, holds the rest back for the interval, and the next line counts them', () => {
    let now = 1_000;
    const turn = createLogThrottle(10_000, () => now);
    expect(turn()).toEqual({ suppressed: 0 });
    const held = Array.from({ length: 5 }, () => turn());
    expect(held).toEqual(Array(5).fill(undefined));
    now += 9_999;
    expect(turn()).toBeUndefined();
    now += 1;
    expect(turn()).toEqual({ suppressed: 6 });
    now += 10_000;
    expect(turn()).toEqual({ suppressed: 0 });
  });
});
