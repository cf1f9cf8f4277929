import type { CanonicalEvent } from '../dialects/index.js';
import type {
  CallKey,
  CallState,
  CommitRequest,
  CommitResult,
  MissedDecision,
  MissedVerdict,
  SummaryDecision,
  SummaryVerdict,
} from '../lifecycle/types.js';
import type { AuditActor, AuditStore } from './audit.js';
import type { DeliverySearch, OperatorReads } from './operator-reads.js';
import type { KeptRaw } from './raw.js';

// The call's row, the commit request and the decisions belong to the lifecycle rules, which the store applies.
export type * from '../lifecycle/types.js';

/**
 * A store, as the parts of the bridge see it: each caller is given the part
 * it uses (`IngestStore`, `OutboxStore`, `OperationsStore`, `UpkeepStore`),
 * and the service the whole. Every method is asynchronous, so an
 * implementation may write from another thread or over a network. Errors that
 * cross this interface are `BridgeError`s (`STORE_UNAVAILABLE` while the store
 * cannot read or write, `OVERLOADED` when too many commits wait), never a
 * driver's own.
 *
 * Promises every implementation keeps: a commit resolves only once durable;
 * dedupe is global; the events of one call are committed one at a time, in
 * the order their call was locked, and their deliveries leave in that order
 * per connector; each missed-call check and each summary revision is decided
 * exactly once.
 */
export interface Store extends IngestStore, OutboxStore, OperationsStore, UpkeepStore {
  /** The durable key-value state of one connector, read and written at `now()`. */
  connectorState(connector: string, now: () => number): ConnectorState;
  /** Rejects when the store cannot answer, or cannot write since its last write failed. */
  ping(): Promise<void>;
  /** Waits for writes in progress, then closes; idempotent. */
  close(): Promise<void>;
}

/** What the acceptor needs: events in, and the decisions of the calls' checks. */
export interface IngestStore {
  /**
   * Stores one event with its call row and its deliveries, atomically. An
   * event with a `subject` belongs to call (`source`, `subject`): `advance` runs
   * under that call's serialization, so a second writer of the call waits for
   * this one and cannot lose its update. A duplicate (same dedupe key, see
   * `dedupeKeyOf`) stores nothing and `advance` is not called.
   */
  commit(request: CommitRequest): Promise<CommitResult>;
  /**
   * Decides one call's missed-call check under the call's serialization: if the
   * check is still due, `verdict` sees the call and its ending event and
   * returns the derived event to commit (as `commit` would), or nothing to
   * record "not missed". A check already decided (by anyone) is `not_due`.
   */
  decideMissed(call: CallKey, now: number, verdict: MissedVerdict): Promise<MissedDecision>;
  /**
   * Summarizes one call under the call's serialization: if its summary is
   * still due, `verdict` sees the call and its stored events (in acceptance
   * order) and returns what to commit, each as `commit` would: companions
   * first, then the summary, whose commit records the revision and ends the
   * check. A summary already taken (by anyone) is `not_due`; a summary id
   * already used ends the check as `duplicate`.
   */
  decideSummary(call: CallKey, now: number, verdict: SummaryVerdict): Promise<SummaryDecision>;
}

/** What the dispatcher needs: deliveries out, their outcomes back. */
export interface OutboxStore {
  /**
   * Leases due deliveries of one connector. Per call, only the earliest pending
   * deliveries are handed out (up to `maxPerCall`, in order, stopping at one
   * that is not due), and none of a call while any of its deliveries is leased,
   * so a call's events never overtake each other. A lease not settled within
   * `leaseMs` lapses and the delivery may be claimed again.
   */
  claim(connector: string, now: number, options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Records outcomes in one write. An outcome whose lease was lost (claimed
   * again after it lapsed) is refused and changes nothing.
   */
  settle(outcomes: readonly DeliveryOutcome[], now: number): Promise<SettleResult>;
  /** When the connector's next pending delivery falls due, if it has any. */
  nextDueAt(connector: string): Promise<number | undefined>;
  /** The paused connectors and since when. */
  paused(): Promise<PauseRecord[]>;
  /** Every connector's recorded health; a connector without a record is up. */
  connectorHealth(): Promise<ConnectorHealthRecord[]>;
  /**
   * Records `next` for its connector if the recorded version is still
   * `next.version - 1` (0: nothing recorded), so that of the processes judging
   * a connector at once only one writes. Recording `up` also makes the
   * connector's pending deliveries due at `now` and starts their budgets
   * (`max_age`) over at `now`: time spent down never makes one dead.
   * Resolves whether it was written.
   */
  recordHealth(next: ConnectorHealthRecord, now: number): Promise<boolean>;
}

/** What operators use (the admin API, the CLI, metrics, the provider's side): reads of the outbox and the events, replays, purges and pauses. */
export interface OperationsStore extends Pick<OutboxStore, 'paused' | 'connectorHealth'>, OperatorReads, AuditStore {
  /** Per connector: pending deliveries and when the oldest of them was created. */
  pendingStats(): Promise<PendingStats[]>;
  /** Per connector: dead deliveries (kept until replayed or purged). */
  deadStats(): Promise<DeadStats[]>;
  /** Deliveries matching `filter`, newest first (page on with `before`, the last id seen). */
  list(filter: DeliveryFilter): Promise<DeliveryRecord[]>;
  /** One delivery with every attempt made, oldest first; undefined when there is no such delivery. */
  delivery(id: number): Promise<DeliveryDetail | undefined>;
  /**
   * An operator's replay. By `ids`: a dead delivery is queued again with a
   * fresh budget (attempts and age start over); a delivered (or skipped) one is queued
   * again as a resend (`replay` counts up, so connectors can give it a new
   * idempotency key); a pending one, or an unknown id, is skipped with the
   * reason. By `filter`: the dead deliveries it matches are queued again. By
   * `search` and `upTo`: the deliveries the search matches with ids up to
   * `upTo`, as `planBulkReplay` (src/store/audit.ts) decides. With `actor`,
   * the audit row is written in the same transaction.
   */
  replay(selection: ReplaySelection, now: number, actor?: AuditActor): Promise<ReplayResult>;
  /** Deletes the dead deliveries last changed before `before` (an explicit purge); resolves with how many went. */
  purgeDead(before: number, filter: { readonly connector?: string }): Promise<number>;
  /** Every stored event with this id (ids repeat across types and sources), newest first, with its call and deliveries. */
  trace(eventId: string): Promise<EventTrace[]>;
  /**
   * Pauses a connector for every process on this store: `claim` hands out
   * nothing for it until `resume`. Resolves false when it was paused already.
   * With `actor`, the audit row is written in the same transaction.
   */
  pause(connector: string, now: number, actor?: AuditActor): Promise<boolean>;
  /**
   * Resumes a paused connector; its pending deliveries' age counts from `now`,
   * so time spent paused never makes one dead. Resolves false when it was not paused.
   * With `actor`, the audit row is written in the same transaction.
   */
  resume(connector: string, now: number, actor?: AuditActor): Promise<boolean>;
  /** Bytes the store takes on disk, where it can tell. */
  sizeBytes(): Promise<number | undefined>;
  /**
   * When the newest event stored from `source` (a CloudEvents source, e.g.
   * `audian/main`) was received, events of `exceptTypes` (the derived ones)
   * left out; undefined when none is stored. Read by the provider's side
   * (`subscriptions status`, `expect_within`).
   */
  lastReceivedAt(source: string, exceptTypes: readonly string[]): Promise<number | undefined>;
  /** Which of `ids` are stored as events of `source` (`subscriptions test` and `reconcile`). */
  storedEventIds(source: string, ids: readonly string[]): Promise<ReadonlySet<string>>;
}

/** What keeps the store going: the call watchers' due checks, and pruning. */
export interface UpkeepStore {
  /** Calls whose missed-call grace period is over at `now`, oldest first. */
  dueMissedChecks(now: number, limit: number): Promise<CallKey[]>;
  /** Calls whose summary is due at `now` (ended and past their grace, or past the longest call age), oldest first. */
  dueSummaries(now: number, limit: number): Promise<CallKey[]>;
  /**
   * Forgets up to `limit` events older than `ttlMs` (with their deliveries and
   * attempts) and up to `limit` such calls, except what a pending or dead
   * delivery, an undecided missed-call check or a call summary not yet due
   * (the call and all its events) needs. `more` says
   * another call has work left.
   */
  prune(now: number, ttlMs: number, limit: number): Promise<PruneResult>;
  /** Forgets up to `limit` audit rows older than `ttlMs` (`store.audit_ttl`); resolves with how many went. */
  pruneAudit(now: number, ttlMs: number, limit: number): Promise<number>;
}

/** Where a store lives: SQLite takes a file path (`:memory:` for a throwaway one), PostgreSQL a URL. */
export interface StoreOptions {
  readonly path: string;
  /** A `postgres://` or `postgresql://` URL: the store is that database (any number of replicas), and `path` and `synchronous` are ignored. */
  readonly url?: string;
  /** TLS for the PostgreSQL connection (PEM text); without it, what the URL says (`sslmode`). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly rejectUnauthorized?: boolean };
  /** Most connections to PostgreSQL this process opens (default 10). */
  readonly poolSize?: number;
  /** False for tools that inspect an existing store: a missing one is `STORE_NOT_FOUND`, never a new empty one. */
  readonly create?: boolean;
  /**
   * Opened by the process that serves (receives and dispatches). A store for one
   * process (SQLite) then refuses a second such process with STORE_LOCKED; the
   * CLI's commands open it without and keep working beside it.
   */
  readonly serving?: boolean;
  /** `full` (the default): an acknowledged event survives power loss; `normal`: a crash of the process only. */
  readonly synchronous?: 'full' | 'normal';
  /** Commits waiting at once beyond which `commit` rejects at once with OVERLOADED. */
  readonly maxPendingCommits?: number;
  /** Keep the request each event arrived in (body and headers, secrets redacted) with it, pruned with it (default true). */
  readonly keepRaw?: boolean;
  /** SQLite: how long a commit asked for while others are being written may wait to join the next group (ms). */
  readonly commitWindowMs?: number;
}

/** `skipped`: the connector chose not to send (e.g. an update older than one delivered); final, like `delivered`. */
export type DeliveryStatus = 'pending' | 'delivered' | 'skipped' | 'dead';

export interface ClaimOptions {
  /** Most deliveries handed out by this claim. */
  readonly limit: number;
  /** How long the claim holds them; longer than a send may take. */
  readonly leaseMs: number;
  /** Most deliveries of one call in one claim (1 unless the connector keeps order within a batch). */
  readonly maxPerCall: number;
}

export interface ClaimedDelivery {
  readonly id: number;
  readonly route: string;
  readonly connector: string;
  /** Attempts already made before this one, since the delivery was queued (or replayed). */
  readonly attempts: number;
  /** When the delivery's retry budget started: created, replayed, or its connector resumed (ms). */
  readonly since: number;
  /** 0 for the original send; n for the n-th resend of a delivered delivery by an operator. */
  readonly replay: number;
  readonly event: CanonicalEvent;
  /** Names this claim; its outcome is written only while the lease is still this one. */
  readonly lease: string;
}

/**
 * Each outcome but `held` is also kept in the delivery's attempt history, with
 * how long the send took. `held`: the send failed because its connector is
 * down or held (see `ConnectorHealthRecord`); the delivery stays pending as
 * it was, with the error, and no attempt is counted or kept.
 */
export type DeliveryOutcome = (
  | { readonly id: number; readonly lease: string; readonly outcome: 'delivered' }
  | { readonly id: number; readonly lease: string; readonly outcome: 'skipped'; readonly reason: string }
  | { readonly id: number; readonly lease: string; readonly outcome: 'retry'; readonly at: number; readonly error: string }
  | { readonly id: number; readonly lease: string; readonly outcome: 'dead'; readonly error: string }
  | { readonly id: number; readonly lease: string; readonly outcome: 'held'; readonly error: string }
) & { readonly durationMs?: number };

export interface SettleResult {
  readonly written: number;
  /** Deliveries whose lease was lost; someone else holds or settled them. */
  readonly refused: readonly number[];
}

export interface PendingStats {
  readonly connector: string;
  readonly n: number;
  /** When the oldest pending delivery was created (ms). */
  readonly oldest: number;
}

export interface DeadStats {
  readonly connector: string;
  readonly n: number;
}

export interface DeliveryFilter {
  readonly status?: DeliveryStatus;
  readonly connector?: string;
  readonly route?: string;
  /** The event's id. */
  readonly event?: string;
  /** The call id (the event's subject). */
  readonly call?: string;
  /** Created at or after (ms). */
  readonly since?: number;
  /** Only ids below this one: the cursor of the next page. */
  readonly before?: number;
  /** Default 100. */
  readonly limit?: number;
}

export interface DeliveryRecord {
  readonly id: number;
  readonly eventId: string;
  readonly type: string;
  readonly route: string;
  readonly connector: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  /** Why the connector skipped it, for a `skipped` delivery. */
  readonly skipReason?: string;
  readonly updatedAt: number;
  readonly createdAt: number;
  /** The event's CloudEvents source and subject (the call id, if any). */
  readonly source: string;
  readonly callId: string | null;
  /** Operator resends of this delivery so far. */
  readonly replay: number;
}

export interface AttemptRecord {
  /** When the attempt started (ms). */
  readonly at: number;
  readonly outcome: 'delivered' | 'skipped' | 'retry' | 'dead';
  /** The failure, or for a skipped attempt the connector's reason. */
  readonly error: string | null;
  readonly durationMs: number | null;
}

export interface DeliveryDetail extends DeliveryRecord {
  /** Every attempt, oldest first; kept as long as the delivery. */
  readonly history: readonly AttemptRecord[];
}

export type ReplaySelection =
  | { readonly ids: readonly number[] }
  | { readonly filter: Pick<DeliveryFilter, 'connector' | 'route' | 'since'> }
  | BulkReplaySelection;

/**
 * A bulk replay of what a count showed: the search (its `statuses` say which
 * to replay), the newest id the count saw (`upTo`: nothing that arrived
 * after is touched), and when it was counted (`asOf`: what changed since is
 * reported as skipped).
 */
export interface BulkReplaySelection {
  readonly search: Omit<DeliverySearch, 'before' | 'limit'> & { readonly statuses: readonly DeliveryStatus[] };
  readonly upTo: number;
  readonly asOf?: number;
}

export interface ReplayResult {
  /** Delivery ids queued again. */
  readonly queued: readonly number[];
  /** What was not queued, and why; `status` is the delivery's status now, where it changed after a count. */
  readonly skipped: readonly { readonly id: number; readonly reason: 'pending' | 'not_found' | 'changed'; readonly status?: DeliveryStatus }[];
}

export interface EventTrace {
  readonly event: CanonicalEvent;
  readonly receivedAt: number;
  /** The call the event belongs to, while the store still knows it. */
  readonly call: CallState | undefined;
  readonly deliveries: readonly DeliveryRecord[];
  /** The request it arrived in, when kept (`keepRaw`); a derived event has none. */
  readonly raw?: KeptRaw;
}

/** `down`: the target cannot be reached and is probed; `held`: it asked the whole connector to wait. */
export type ConnectorHealthState = 'up' | 'down' | 'held';

/** A connector's health as the dispatcher judged it (src/dispatch/health.ts), shared by every process on the store. */
export interface ConnectorHealthRecord {
  readonly connector: string;
  readonly state: ConnectorHealthState;
  /** Since when it is in this state (ms). */
  readonly since: number;
  /** Why it is down or held: the failure that made it so, then the latest failed probe's. */
  readonly reason: string | null;
  /** Down: when the next probe is due; held: when the hold ends (ms). */
  readonly until: number | null;
  /** How many times in a row it went down soon after coming up (a flapping target); the probe interval grows with it. */
  readonly flaps: number;
  /** Counts the writes of this record (compare-and-set, see `OutboxStore.recordHealth`). */
  readonly version: number;
}

export interface PauseRecord {
  readonly connector: string;
  readonly since: number;
}

export interface PruneResult {
  readonly events: number;
  readonly calls: number;
  /** True when a limit was reached: call again for the rest. */
  readonly more: boolean;
}

/** A connector's own small key-value state that survives restarts, e.g. Slack thread timestamps. */
export interface ConnectorState {
  /** The value, unless absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key` until `expiresAt` (ms since the epoch). */
  set(key: string, value: string, expiresAt: number): Promise<void>;
}
