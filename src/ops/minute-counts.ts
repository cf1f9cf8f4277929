import type { Activity } from './activity.js';

const MINUTE_MS = 60_000;
/** A day of minutes: the longest span the overview charts. */
const DAY_MINUTES = 24 * 60;
/**
 * Counters one minute holds at most. The keys come from finite sets (error
 * codes, configured connectors), so this is only a bound should that ever
 * change: past it, a minute counts the rest under its kind's `OTHER` (one more key per kind at most).
 */
const KEYS_PER_MINUTE = 64;

/** Totals over a span, for the overview's "in the last hour". */
export interface ActivityTotals {
  readonly accepted: number;
  readonly duplicate: number;
  /** Per error code. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Per connector: attempts delivered, and attempts that failed (to be retried, or dead). */
  readonly connectors: Readonly<Record<string, { readonly delivered: number; readonly failed: number }>>;
}

/** One bar of a chart: the counts of `stepMs` from `at`. */
export interface ActivityBucket {
  readonly at: number;
  readonly accepted: number;
  readonly duplicate: number;
  readonly rejected: number;
  readonly delivered: number;
  readonly failed: number;
}

export interface ActivitySeries {
  readonly span: 'hour' | 'day';
  readonly stepMs: number;
  /** Oldest first; the last one holds the current minute (or hour). */
  readonly buckets: readonly ActivityBucket[];
}

export interface MinuteCounts {
  /** Counts one activity in the minute it happened; a feed's subscriber. */
  record(activity: Activity): void;
  /** The totals of the last 60 minutes, this one included. */
  lastHour(now: number): ActivityTotals;
  /** Per minute over the last hour, or per hour over the last day. */
  series(span: 'hour' | 'day', now: number): ActivitySeries;
}

interface Slot {
  minute: number;
  readonly counts: Map<string, number>;
}

/** The counter an activity adds to, or none (a skipped delivery is neither delivered nor failed). */
function keyOf(activity: Activity): string | undefined {
  if (activity.kind === 'webhook') return activity.outcome === 'rejected' ? `rejected:${activity.code ?? 'INTERNAL_ERROR'}` : activity.outcome;
  if (activity.outcome === 'delivered') return `delivered:${activity.connector}`;
  if (activity.outcome === 'retry' || activity.outcome === 'dead') return `failed:${activity.connector}`;
  return undefined;
}

/**
 * Per-minute counts of what this process did, kept in memory for a day:
 * one slot per minute of the day, reused as the clock goes round, so memory
 * stays the same whatever the traffic, and a flood of refused webhooks
 * costs a counter, never a write to the store.
 */
export function createMinuteCounts(): MinuteCounts {
  const slots: Slot[] = [];

  function slotOf(minute: number): Slot {
    const index = minute % DAY_MINUTES;
    let slot = slots[index];
    if (!slot) slots[index] = slot = { minute, counts: new Map() };
    if (slot.minute !== minute) {
      slot.minute = minute;
      slot.counts.clear();
    }
    return slot;
  }

  /** The slots of minutes `from` to `to` that hold counts of that very minute. */
  function* minutes(from: number, to: number): Generator<Slot> {
    for (let minute = Math.max(from, to - DAY_MINUTES + 1); minute <= to; minute++) {
      const slot = slots[minute % DAY_MINUTES];
      if (slot && slot.minute === minute) yield slot;
    }
  }

  return {
    record(activity) {
      const key = keyOf(activity);
      if (key === undefined) return;
      const { counts } = slotOf(Math.floor(activity.at / MINUTE_MS));
      const kept = counts.has(key) || counts.size < KEYS_PER_MINUTE ? key : `${key.split(':')[0]}:OTHER`;
      counts.set(kept, (counts.get(kept) ?? 0) + 1);
    },
    lastHour(now) {
      const to = Math.floor(now / MINUTE_MS);
      return totalsOf(minutes(to - 59, to));
    },
    series(span, now) {
      const to = Math.floor(now / MINUTE_MS);
      const [count, width] = span === 'hour' ? [60, 1] : [24, 60];
      const first = to - count * width + 1;
      const buckets = Array.from({ length: count }, (_, index) => emptyBucket((first + index * width) * MINUTE_MS));
      for (const slot of minutes(first, to)) addTo(buckets[Math.floor((slot.minute - first) / width)]!, slot.counts);
      return { span, stepMs: width * MINUTE_MS, buckets };
    },
  };
}

type MutableBucket = { -readonly [K in keyof ActivityBucket]: ActivityBucket[K] };

function emptyBucket(at: number): MutableBucket {
  return { at, accepted: 0, duplicate: 0, rejected: 0, delivered: 0, failed: 0 };
}

function addTo(bucket: MutableBucket, counts: ReadonlyMap<string, number>): void {
  for (const [key, count] of counts) {
    const kind = key.split(':')[0] as 'accepted' | 'duplicate' | 'rejected' | 'delivered' | 'failed';
    bucket[kind] += count;
  }
}

function totalsOf(slots: Iterable<Slot>): ActivityTotals {
  let accepted = 0;
  let duplicate = 0;
  const rejected: Record<string, number> = {};
  const connectors: Record<string, { delivered: number; failed: number }> = {};
  for (const slot of slots) {
    for (const [key, count] of slot.counts) {
      const at = key.indexOf(':');
      const [kind, name] = at === -1 ? [key, ''] : [key.slice(0, at), key.slice(at + 1)];
      if (kind === 'accepted') accepted += count;
      else if (kind === 'duplicate') duplicate += count;
      else if (kind === 'rejected') rejected[name] = (rejected[name] ?? 0) + count;
      else if (kind === 'delivered' || kind === 'failed') (connectors[name] ??= { delivered: 0, failed: 0 })[kind] += count;
    }
  }
  return { accepted, duplicate, rejected, connectors };
}
