import type { ConnectorHealthRecord, ConnectorHealthState } from './types.js';

/** A connector's health as it stands at one moment, for operators. */
export interface HealthNow {
  readonly state: ConnectorHealthState;
  /** Since when (ms); null for a connector never judged. */
  readonly since: number | null;
  readonly reason: string | null;
  /** Down: the next probe; held: the end of the hold (ms). */
  readonly until: number | null;
}

/** `record` as it stands at `now`: no record is up, and a hold that has ended is up again from its end. */
export function healthAt(record: ConnectorHealthRecord | undefined, now: number): HealthNow {
  if (!record) return { state: 'up', since: null, reason: null, until: null };
  if (record.state === 'held' && (record.until ?? 0) <= now) return { state: 'up', since: record.until, reason: null, until: null };
  return { state: record.state, since: record.since, reason: record.reason, until: record.until };
}
