import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGatheredWake, createWakeableSleep } from '../../src/dispatch/wakeable-sleep.js';

/** How long `promise` takes to settle, in ms. */
async function timed(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await promise;
  return performance.now() - started;
}

describe('a wakeable sleep', () => {
  it('sleeps its time when nothing wakes it', async () => {
    expect(await timed(createWakeableSleep().sleep(50))).toBeGreaterThanOrEqual(45);
  });

  it('a wake ends a sleep in progress', async () => {
    const sleeper = createWakeableSleep();
    const sleeping = sleeper.sleep(60_000);
    setTimeout(() => sleeper.wake(), 10);
    expect(await timed(sleeping)).toBeLessThan(5_000);
  });

  it('a wake while nobody sleeps is kept for the next sleep, once', async () => {
    const sleeper = createWakeableSleep();
    sleeper.wake();
    expect(await timed(sleeper.sleep(60_000))).toBeLessThan(1_000);
    expect(await timed(sleeper.sleep(50))).toBeGreaterThanOrEqual(45);
  });

  it('an interrupt ends a sleep in progress and keeps nothing for later', async () => {
    const sleeper = createWakeableSleep();
    sleeper.interrupt();
    expect(await timed(sleeper.sleep(50))).toBeGreaterThanOrEqual(45);
    const sleeping = sleeper.sleep(60_000);
    sleeper.interrupt();
    expect(await timed(sleeping)).toBeLessThan(1_000);
  });
});

describe('a gathered wake', () => {
  afterEach(() => vi.useRealTimers());

  it('wakes once at the end of its window for every call within it, then starts a new window', () => {
    vi.useFakeTimers();
    let wakes = 0;
    const wake = createGatheredWake(() => wakes++, 20);
    wake();
    wake();
    vi.advanceTimersByTime(19);
    wake();
    expect(wakes).toBe(0);
    vi.advanceTimersByTime(1);
    expect(wakes).toBe(1);
    wake();
    vi.advanceTimersByTime(20);
    expect(wakes).toBe(2);
  });

  it('with a window of 0 each call wakes at once', () => {
    let wakes = 0;
    const wake = createGatheredWake(() => wakes++, 0);
    wake();
    wake();
    expect(wakes).toBe(2);
  });
});
