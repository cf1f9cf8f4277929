import type { CanonicalEvent } from '../../dialects/index.js';
import type { CheckEnd } from '../../lifecycle/call-checks.js';
import type { CallKey, CallState, CommitRequest, CommitResult } from '../../lifecycle/types.js';
import type {
  ClaimedDelivery,
  ClaimOptions,
  ConnectorHealthRecord,
  DeadStats,
  DeliveryDetail,
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryRecord,
  EventTrace,
  PauseRecord,
  PendingStats,
  ReplayResult,
  ReplaySelection,
  SettleResult,
} from '../types.js';
import type { OperatorReadsAdapter } from '../operator-reads.js';
import type { Awaitable } from './availability.js';
import type { DriverFailure } from './errors.js';

/**
 * What a database adds to the store core (core/index.ts): only what differs
 * between databases. How a call is locked, how a commit is written
 * atomically, where leases live, and the SQL. The rules (src/lifecycle/), the
 * OVERLOADED gate, readiness, the closed gate, the mapping of driver failures
 * and the prune policy are the core's: an adapter neither decides nor guards.
 */
export interface StoreAdapter {
  /** The database's name in messages: "SQLite", "PostgreSQL". */
  readonly name: string;
  /** Which of its driver's failures mean the store cannot answer now. */
  readonly failure: DriverFailure;
  readonly calls: CallsAdapter;
  readonly outbox: OutboxAdapter;
  readonly operations: OperationsAdapter;
  readonly connectorState: ConnectorStateAdapter;
  /** Forgets what the prune policy lets go at `cut` (see `PruneCut`), up to `cut.limit` events and as many calls. */
  prune(cut: PruneCut): Promise<{ readonly events: number; readonly calls: number }>;
  /** Answers when the database does. */
  ping(): Awaitable<unknown>;
  /** A small write that tells whether writes work again. */
  probe(now: number): Promise<unknown>;
  /** Waits for the writes already asked for. */
  drain(): Promise<void>;
  /** Lets go of connections, files and locks, once drained. */
  release(): Awaitable<void>;
}

/** The calls: events committed under their call's lock, and a call held locked while its check is decided. */
export interface CallsAdapter {
  /**
   * Stores one event as `Store.commit` promises: a duplicate stores nothing and
   * is not advanced; otherwise `advance` runs holding the call's lock and its
   * admission is written atomically (event, call row, deliveries).
   */
  commit(request: CommitRequest): Promise<CommitResult>;
  /**
   * Runs `task` holding the call's lock, with the call as read under it (none
   * when there is no such call). Everything `task` does through `call` happens
   * under that lock, and on a transactional database in one transaction.
   */
  withCall<T>(key: CallKey, now: number, task: (state: CallState | undefined, call: LockedCall) => Promise<T>): Promise<T>;
  /** Calls whose missed-call check is at or before `now`, oldest first. */
  dueMissedChecks(now: number, limit: number): Awaitable<CallKey[]>;
  /** Calls whose summary check is at or before `now`, oldest first. */
  dueSummaries(now: number, limit: number): Awaitable<CallKey[]>;
}

/** One call, held under its lock (see `CallsAdapter.withCall`). */
export interface LockedCall {
  /** The event stored under this dedupe key, while it is stored. */
  event(dedupeKey: string): Awaitable<CanonicalEvent | undefined>;
  /** The call's stored events, in acceptance order. */
  events(): Awaitable<CanonicalEvent[]>;
  /** Commits `requests` in order, each as `commit` would, each seeing the call as the one before left it. */
  commit(requests: readonly CommitRequest[]): Promise<CommitResult[]>;
  /** Writes the end of a check, as the rules planned it (src/lifecycle/call-checks.ts), at the `now` of `withCall`. */
  end(end: CheckEnd): Promise<void>;
}

/** The outbox as the dispatcher drives it: leases and outcomes. */
export interface OutboxAdapter {
  /** Whether a claim writes (leases kept in the rows) or only reads (leases kept in memory). */
  readonly claimWrites: boolean;
  claim(connector: string, now: number, options: ClaimOptions): Awaitable<ClaimedDelivery[]>;
  settle(outcomes: readonly DeliveryOutcome[], now: number): Promise<SettleResult>;
  nextDueAt(connector: string): Awaitable<number | undefined>;
  connectorHealth(): Awaitable<ConnectorHealthRecord[]>;
  /** As `OutboxStore.recordHealth`: written only over version `next.version - 1`, atomically with what `up` releases. */
  recordHealth(next: ConnectorHealthRecord, now: number): Promise<boolean>;
}

/** The outbox as operators read and change it. */
export interface OperationsAdapter extends OperatorReadsAdapter {
  pendingStats(): Awaitable<PendingStats[]>;
  deadStats(): Awaitable<DeadStats[]>;
  list(filter: DeliveryFilter): Awaitable<DeliveryRecord[]>;
  delivery(id: number): Awaitable<DeliveryDetail | undefined>;
  trace(eventId: string): Awaitable<EventTrace[]>;
  paused(): Awaitable<PauseRecord[]>;
  replay(selection: ReplaySelection, now: number): Promise<ReplayResult>;
  purgeDead(before: number, connector: string | undefined): Promise<number>;
  pause(connector: string, now: number): Promise<boolean>;
  resume(connector: string, now: number): Promise<boolean>;
  sizeBytes(): Awaitable<number | undefined>;
  lastReceivedAt(source: string, exceptTypes: readonly string[]): Awaitable<number | undefined>;
  storedEventIds(source: string, ids: readonly string[]): Awaitable<ReadonlySet<string>>;
}

export interface ConnectorStateAdapter {
  /** The value, unless absent or expired at `now`. */
  get(connector: string, key: string, now: number): Awaitable<string | undefined>;
  /** Stores `value` until `expiresAt`, and forgets the values expired at `now`. */
  set(connector: string, key: string, value: string, expiresAt: number, now: number): Promise<void>;
}

/**
 * What pruning may forget: events received before `olderThan`, except those a
 * pending or dead delivery, an undecided missed-call check or a call summary
 * not yet due at `now` still needs (the call and all its events); calls
 * untouched since `olderThan` whose missed-call decision is made and whose
 * summary is not still ahead. At most `limit` of each.
 */
export interface PruneCut {
  readonly olderThan: number;
  readonly now: number;
  readonly limit: number;
}
