import type { Evidence } from './ledger.js';
import { targetOf, type FaultKind, type ScheduledFault } from './schedule.js';

/**
 * Plays a schedule (schedule.ts) against the run's parts: starts each fault at
 * its time (later when its target is still under the fault before, or two are
 * in force: the schedule's promise holds as it happens), ends it after its duration, and records when each really started
 * and ended (a restart ends when the process is back), the kills it did, and
 * the faults it could not inject, with why.
 */

/** How to start and end each kind of fault; absent when it cannot be injected in this run (see `notInjected`). */
export type FaultActions = Partial<Record<FaultKind, (fault: ScheduledFault) => Promise<() => Promise<void>>>>;

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly replica: number;
  readonly plannedStartMs: number;
  readonly plannedDurationMs: number;
  /** ms since the epoch; undefined when it was not injected. */
  startAt?: number;
  endAt?: number;
  /** Why it was not injected, or what went wrong while it was. */
  note?: string;
}

export interface NemesisOptions {
  readonly actions: FaultActions;
  /** Kinds this run cannot inject, with why (a full disk without root). */
  readonly notInjected: Partial<Record<FaultKind, string>>;
  readonly kills: Evidence['kills'][number][];
}

export function createNemesis(options: NemesisOptions) {
  const records: FaultRecord[] = [];
  /** The targets of the faults in force. */
  const active: string[] = [];

  async function play(fault: ScheduledFault, startedAt: number): Promise<void> {
    const record: FaultRecord = { kind: fault.kind, replica: fault.replica, plannedStartMs: fault.startMs, plannedDurationMs: fault.durationMs };
    records.push(record);
    const action = options.actions[fault.kind];
    if (!action) {
      record.note = `not injected: ${options.notInjected[fault.kind] ?? 'no action for this store'}`;
      return;
    }
    await sleepUntil(startedAt + fault.startMs);
    // A restart may outlast its plan on a busy machine: a fault waits for its target, and for a third to end.
    const target = targetOf(fault.kind);
    while (active.length >= 2 || active.includes(target)) await new Promise((resolve) => setTimeout(resolve, 100));
    active.push(target);
    record.startAt = Date.now();
    try {
      const end = await action(fault);
      await sleepUntil(record.startAt + fault.durationMs);
      await end();
    } catch (err) {
      record.note = `failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    record.endAt = Date.now();
    active.splice(active.indexOf(target), 1);
  }

  return {
    records,
    kills: options.kills,
    /** Plays every fault of `schedule` from `startedAt`; resolves when the last has ended. */
    run: (schedule: readonly ScheduledFault[], startedAt: number) => Promise.all(schedule.map((fault) => play(fault, startedAt))).then(() => records.sort((a, b) => a.plannedStartMs - b.plannedStartMs)),
  };
}

function sleepUntil(at: number): Promise<void> {
  const wait = at - Date.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}
