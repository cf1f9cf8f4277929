import type { CanonicalEvent } from '../dialects/index.js';
import type { Awaitable } from './core/availability.js';
import type { CallState, DeliveryRecord, DeliveryStatus } from './types.js';

/**
 * The reads operators' pages and the admin API need beyond the outbox's own
 * (src/ops/operations.ts): deliveries by any combination of filters, a call's
 * events and deliveries, calls by id or by phone number, each connector's
 * last error. Each runs on an index: none reads a table through.
 */
export interface OperatorReads {
  /**
   * Deliveries matching every filter given, newest first (page on with
   * `before`, the last id seen). With `event` or `call` the rows are found
   * through those events; otherwise by walking the ids down.
   */
  searchDeliveries(search: DeliverySearch): Promise<DeliveryRecord[]>;
  /** The calls with this id, one per source that has it. */
  callsWithId(callId: string): Promise<CallRecord[]>;
  /**
   * The calls whose caller or callee is written with these digits (and only
   * the separators ` +-()./`), most recently changed first.
   */
  callsWithNumber(digits: string, limit: number): Promise<CallRecord[]>;
  /**
   * Stored events matching every filter given, newest accepted first (page on
   * with `before`, the last `seq` seen). With `call` they are found through
   * the call's events; otherwise by walking the sequence down.
   */
  listEvents(search: EventSearch): Promise<ListedEvent[]>;
  /** The stored events whose subject is this call id, from every source, in the order they were accepted. */
  eventsOfCall(callId: string, limit: number): Promise<StoredEvent[]>;
  /** The deliveries of those events, oldest first. */
  deliveriesOfCall(callId: string, limit: number): Promise<DeliveryRecord[]>;
  /** Per connector named: the most recent error of a delivery still failing (pending a retry, or dead), if any. */
  lastErrors(connectors: readonly string[]): Promise<ConnectorError[]>;
  /**
   * What was stored after `after`, oldest first: events accepted and delivery
   * attempts recorded, at most `limit` of each, found by their keys alone;
   * without `after`, none, with the cursor of the newest (a tail starts
   * there). On PostgreSQL a row whose transaction commits after a later
   * one's can be passed over: good for watching, not for auditing.
   */
  activityAfter(after: ActivityCursor | undefined, limit: number): Promise<StoredActivity>;
  /** How many deliveries match the search now, per status, and the newest id among them (a bulk replay's `upTo`). */
  countDeliveries(search: Omit<DeliverySearch, 'before' | 'limit'>): Promise<DeliveryCount>;
}

export interface DeliveryCount {
  readonly byStatus: Readonly<Record<DeliveryStatus, number>>;
  /** The highest id matching; undefined when none does. */
  readonly newest: number | undefined;
}

/** The same reads as an adapter gives them to the store core (src/store/core/operator-reads.ts guards them). */
export type OperatorReadsAdapter = {
  readonly [K in keyof OperatorReads]: (...args: Parameters<OperatorReads[K]>) => Awaitable<Awaited<ReturnType<OperatorReads[K]>>>;
};

export interface DeliverySearch {
  /** Any of these statuses. */
  readonly statuses?: readonly DeliveryStatus[];
  readonly connector?: string;
  readonly route?: string;
  /** The event's type. */
  readonly type?: string;
  /** The event's id. */
  readonly event?: string;
  /** The call id (the event's subject). */
  readonly call?: string;
  /** Created at or after (ms). */
  readonly since?: number;
  /** Created before (ms). */
  readonly until?: number;
  /** Only ids below this one: the cursor of the next page. */
  readonly before?: number;
  readonly limit: number;
}

export interface EventSearch {
  /** The event's type. */
  readonly type?: string;
  /** The event's source (`audian/main`). */
  readonly source?: string;
  /** The call id (the event's subject). */
  readonly call?: string;
  /** Accepted at or after (ms). */
  readonly since?: number;
  /** Accepted before (ms). */
  readonly until?: number;
  /** Only events stored before this sequence number: the cursor of the next page. */
  readonly before?: number;
  readonly limit: number;
}

/** A stored event with its place in the store's sequence (the cursor of `listEvents`). */
export interface ListedEvent extends StoredEvent {
  readonly seq: number;
}

/** A call as stored, with when its row last changed (ms); `endEventKey` is not read. */
export interface CallRecord extends CallState {
  readonly updatedAt: number;
}

export interface StoredEvent {
  readonly event: CanonicalEvent;
  /** When the bridge accepted it (ms). */
  readonly receivedAt: number;
}

/** Where a tail of the store stands: the last event and the last attempt it has read. */
export interface ActivityCursor {
  readonly event: number;
  readonly attempt: number;
}

export interface StoredActivity {
  readonly events: readonly StoredEvent[];
  readonly attempts: readonly StoredAttempt[];
  /** Where to read on from. */
  readonly cursor: ActivityCursor;
}

/** One recorded attempt of a delivery, with what the tail shows of its event. */
export interface StoredAttempt {
  readonly deliveryId: number;
  readonly connector: string;
  readonly route: string;
  readonly eventId: string;
  readonly type: string;
  readonly source: string;
  readonly callId: string | null;
  readonly outcome: 'delivered' | 'skipped' | 'retry' | 'dead';
  readonly error: string | null;
  /** When the attempt ended (ms). */
  readonly at: number;
  readonly durationMs: number | null;
  /** When its event was accepted (ms). */
  readonly receivedAt: number;
}

export interface ConnectorError {
  readonly connector: string;
  readonly error: string;
  /** When that delivery last changed (ms). */
  readonly at: number;
  readonly deliveryId: number;
}

/** A count's rows as both stores read them: one per status found. */
export interface StatusCountRow {
  readonly status: DeliveryStatus;
  readonly n: number;
  readonly newest: number;
}

/** Every status counted (0 where none), and the newest id of all. */
export function countFromRows(rows: readonly StatusCountRow[]): DeliveryCount {
  const byStatus: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, skipped: 0, dead: 0 };
  let newest: number | undefined;
  for (const row of rows) {
    byStatus[row.status] += Number(row.n);
    newest = Math.max(newest ?? 0, Number(row.newest));
  }
  return { byStatus, newest };
}

/** The separators `callsWithNumber` ignores in a stored number; the migrations' `from_digits` and `to_digits` drop the same. */
export const NUMBER_SEPARATORS = ' +-()./';

/** A searched phone number as the stores compare it: its digits alone (`+1 415-555-0100` is `14155550100`). */
export function digitsOf(text: string): string {
  return text.replace(/\D/g, '');
}
