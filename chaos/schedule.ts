/**
 * The nemesis's schedule: which faults, when and for how long, drawn from the
 * run's seed alone, so the same seed gives the same schedule and a failing run
 * can be replayed exactly. Never more than two faults at once, and never two
 * that act on the same target (two CRM modes at once would be one fault).
 */

export type FaultKind =
  | 'broker-kill'
  | 'crm-500'
  | 'crm-hang'
  | 'crm-429'
  | 'crm-reset'
  | 'slack-429'
  | 'bridge-kill'
  | 'postgres-restart'
  | 'disk-full'
  | 'reload'
  | 'write-lock';

export type StoreKind = 'sqlite' | 'postgres';

export interface ScheduledFault {
  readonly kind: FaultKind;
  /** ms after the load started. */
  readonly startMs: number;
  /** How long the fault lasts, ms (a reload is instantaneous: 0). */
  readonly durationMs: number;
  /** Which replica a bridge kill hits (0 when there is one). */
  readonly replica: number;
}

export interface ScheduleOptions {
  readonly seed: number;
  /** How long the load runs, ms; every fault ends before its last tenth (at least 10 s), so the run ends whole. */
  readonly loadMs: number;
  readonly store: StoreKind;
  readonly replicas: number;
}

/** Shortest and longest duration per kind, ms. A CRM hang outlasts the chaos config's send_timeout (5 s). */
export const DURATIONS: Readonly<Record<FaultKind, readonly [number, number]>> = {
  'broker-kill': [4_000, 12_000],
  'crm-500': [3_000, 10_000],
  'crm-hang': [6_000, 12_000],
  'crm-429': [3_000, 10_000],
  'crm-reset': [3_000, 8_000],
  'slack-429': [3_000, 10_000],
  'bridge-kill': [1_000, 4_000],
  'postgres-restart': [1_000, 5_000],
  'disk-full': [3_000, 8_000],
  reload: [0, 0],
  'write-lock': [2_000, 6_000],
};

/** What a fault acts on: two faults on one target never overlap. */
export function targetOf(kind: FaultKind): string {
  if (kind.startsWith('crm-')) return 'crm';
  if (kind === 'disk-full' || kind === 'write-lock' || kind === 'postgres-restart') return 'store';
  if (kind === 'bridge-kill' || kind === 'reload') return 'bridge';
  return kind;
}

/** The kinds that apply to a store: the held lock and the full disk are SQLite's, the restart PostgreSQL's. */
export function faultKinds(store: StoreKind): FaultKind[] {
  const common: FaultKind[] = ['broker-kill', 'crm-500', 'crm-hang', 'crm-429', 'crm-reset', 'slack-429', 'bridge-kill', 'reload'];
  return store === 'sqlite' ? [...common, 'disk-full', 'write-lock'] : [...common, 'postgres-restart'];
}

/** mulberry32: a small, fast generator whose whole state is one 32-bit number, so a seed says everything. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function between(random: () => number, low: number, high: number): number {
  return Math.round(low + random() * (high - low));
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Every applicable kind once in a seeded order, then again in a new order, for as
 * long as the load lasts. Two lanes: each fault goes on the lane free first,
 * after a gap of 1-4 s, and waits for the other lane's fault when both act on one target.
 */
export function createSchedule(options: ScheduleOptions): ScheduledFault[] {
  const random = createRandom(options.seed);
  const endBy = options.loadMs - Math.max(10_000, options.loadMs / 10);
  const lanes: { freeAt: number; last?: ScheduledFault }[] = [{ freeAt: 2_000 }, { freeAt: 4_000 }];
  const faults: ScheduledFault[] = [];
  for (let round = 0; round < 1_000; round++) {
    let placed = 0;
    for (const kind of shuffled(faultKinds(options.store), random)) {
      const lane = lanes[0]!.freeAt <= lanes[1]!.freeAt ? lanes[0]! : lanes[1]!;
      const other = lane === lanes[0] ? lanes[1]! : lanes[0]!;
      let startMs = lane.freeAt + between(random, 1_000, 4_000);
      if (other.last && targetOf(other.last.kind) === targetOf(kind)) startMs = Math.max(startMs, other.freeAt + 1_000);
      const durationMs = between(random, ...DURATIONS[kind]);
      const replica = kind === 'bridge-kill' ? Math.floor(random() * options.replicas) : 0;
      if (startMs + durationMs > endBy) continue;
      const fault: ScheduledFault = { kind, startMs, durationMs, replica };
      faults.push(fault);
      lane.freeAt = startMs + durationMs;
      lane.last = fault;
      placed++;
    }
    if (placed === 0) break;
  }
  return faults.sort((a, b) => a.startMs - b.startMs);
}

/** The most faults in force at any moment (a fault holds [start, start + duration]). */
export function maxConcurrent(faults: readonly ScheduledFault[]): number {
  const edges = faults.flatMap((fault) => [
    { at: fault.startMs, delta: 1 },
    { at: fault.startMs + fault.durationMs, delta: -1 },
  ]);
  // Ends before starts at the same instant: a fault ending when another starts is not overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.delta;
    most = Math.max(most, now);
  }
  return most;
}
