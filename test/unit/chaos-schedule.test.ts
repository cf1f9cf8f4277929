import { describe, expect, it } from 'vitest';
import { createSchedule, DURATIONS, faultKinds, maxConcurrent, targetOf, type ScheduledFault } from '../../chaos/schedule.js';

const overlaps = (a: ScheduledFault, b: ScheduledFault) => a.startMs < b.startMs + b.durationMs && b.startMs < a.startMs + a.durationMs;

describe('the chaos schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const options = { seed: 29, loadMs: 600_000, store: 'sqlite' as const, replicas: 1 };
    expect(createSchedule(options)).toEqual(createSchedule(options));
    expect(createSchedule({ ...options, seed: 30 })).not.toEqual(createSchedule(options));
  });

  it('never has more than two faults at once, nor two on one target', () => {
    for (let seed = 1; seed <= 50; seed++) {
      for (const store of ['sqlite', 'postgres'] as const) {
        const faults = createSchedule({ seed, loadMs: 600_000, store, replicas: 3 });
        expect(maxConcurrent(faults)).toBeLessThanOrEqual(2);
        for (const [i, a] of faults.entries()) {
          for (const b of faults.slice(i + 1)) if (overlaps(a, b)) expect(targetOf(a.kind), `${a.kind} and ${b.kind} at once`).not.toBe(targetOf(b.kind));
        }
      }
    }
  });

  it('brings every fault of the store, within its bounds, ending before the load does', () => {
    for (const store of ['sqlite', 'postgres'] as const) {
      const loadMs = 75_000;
      const faults = createSchedule({ seed: 7, loadMs, store, replicas: 2 });
      expect(new Set(faults.map((fault) => fault.kind))).toEqual(new Set(faultKinds(store)));
      for (const fault of faults) {
        const [low, high] = DURATIONS[fault.kind];
        expect(fault.durationMs).toBeGreaterThanOrEqual(low);
        expect(fault.durationMs).toBeLessThanOrEqual(high);
        expect(fault.startMs + fault.durationMs).toBeLessThanOrEqual(loadMs - 10_000);
        expect(fault.replica).toBeLessThan(2);
      }
    }
    expect(faultKinds('sqlite')).toContain('disk-full');
    expect(faultKinds('postgres')).toContain('postgres-restart');
  });

  it('counts overlap the way the schedule means it', () => {
    const at = (startMs: number, durationMs: number): ScheduledFault => ({ kind: 'crm-500', startMs, durationMs, replica: 0 });
    expect(maxConcurrent([at(0, 10), at(5, 10), at(8, 10)])).toBe(3);
    expect(maxConcurrent([at(0, 10), at(10, 10)])).toBe(1);
  });
});
