import { BridgeError } from '../../errors.js';
import type { CommitRequest, CommitResult } from '../../lifecycle/types.js';
import type { AuditStore } from '../audit.js';
import type { ConnectorState, IngestStore, OperationsStore, OutboxStore, PruneResult, Store, UpkeepStore } from '../types.js';
import type { CallsAdapter, OperationsAdapter, OutboxAdapter, StoreAdapter } from './adapter.js';
import { createAvailability, type Availability } from './availability.js';
import { createCallDecisions } from './call-decisions.js';
import { storeErrors } from './errors.js';
import { guardOperatorReads } from './operator-reads.js';
import { keptRaw } from '../raw.js';

export interface CoreOptions {
  /** Commits waiting at once (for their call, their routing, their write) beyond which `commit` answers OVERLOADED at once. */
  readonly maxPendingCommits?: number;
  /** Keep the request each event arrived in (`store.keep_raw`, default true); false keeps none. */
  readonly keepRaw?: boolean;
}

/**
 * The store on one database: the adapter supplies what the database does
 * (core/adapter.ts); the core makes it the `Store` every database promises.
 * It owns what is the same everywhere: the OVERLOADED gate, the call checks'
 * decisions (by the rules in src/lifecycle/), readiness after a failed write
 * and the probe that clears it, the closed gate, the driver failures as
 * STORE_UNAVAILABLE, and the prune policy.
 */
export function createStoreCore(adapter: StoreAdapter, options: CoreOptions = {}): Store {
  const store = createAvailability(adapter.name, storeErrors(adapter.name, adapter.failure).toStoreError);
  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    // What was asked for before finishes first: its callers were promised an answer.
    await adapter.drain();
    store.close();
    await adapter.release();
  }
  return {
    ...ingest(adapter.calls, store, options.maxPendingCommits ?? Number.POSITIVE_INFINITY, options.keepRaw ?? true),
    ...operations(adapter.operations, store),
    ...outbox(adapter.outbox, store),
    recordAudit: (entry) => store.write('record an audit row', () => adapter.audit.record(entry)),
    auditLog: (page) => store.read('read the audit', () => adapter.audit.log(page)),
    ...upkeep(adapter, store),
    connectorState(connector: string, now: () => number): ConnectorState {
      return {
        get: (key) => store.read('read connector state', () => adapter.connectorState.get(connector, key, now())),
        set: (key, value, expiresAt) => store.write('write connector state', () => adapter.connectorState.set(connector, key, value, expiresAt, now())),
      };
    },
    async ping() {
      await store.read('answer', () => adapter.ping());
      if (store.writesFailing()) await store.write('write', () => adapter.probe(Date.now()));
    },
    close: () => (closing ??= close()),
  };
}

/** The request as the adapter writes it: its raw request redacted and bounded, or none at all. */
function keeping(request: CommitRequest, keepRaw: boolean): CommitRequest {
  if (request.raw === undefined) return request;
  if (!keepRaw) return { event: request.event, receivedAt: request.receivedAt, advance: request.advance };
  return { ...request, raw: keptRaw(request.raw) };
}

function ingest(calls: CallsAdapter, store: Availability, maxPending: number, keepRaw: boolean): IngestStore {
  let pending = 0;
  const done = () => {
    pending--;
  };
  return {
    commit(request: CommitRequest): Promise<CommitResult> {
      // A bounded wait: past it the provider hears 503 at once and retries, instead of a queue that only grows.
      if (pending >= maxPending) return Promise.reject(new BridgeError('OVERLOADED', 'too many webhooks are waiting for the store; retry shortly'));
      pending++;
      const kept = keeping(request, keepRaw);
      return store.write('commit an event', () => calls.commit(kept)).finally(done);
    },
    ...createCallDecisions(calls, store),
  };
}

function outbox(outbox: OutboxAdapter, store: Availability): Omit<OutboxStore, 'paused'> {
  // Where leases live in the rows a claim is a write, and tells readiness what writes do.
  const claiming = outbox.claimWrites ? store.write : store.read;
  return {
    claim: (connector, now, options) => claiming('claim deliveries', () => outbox.claim(connector, now, options)),
    settle: (outcomes, now) => store.write('record delivery outcomes', () => outbox.settle(outcomes, now)),
    nextDueAt: (connector) => store.read('read deliveries', () => outbox.nextDueAt(connector)),
    connectorHealth: () => store.read('read connector health', () => outbox.connectorHealth()),
    recordHealth: (next, now) => store.write('record connector health', () => outbox.recordHealth(next, now)),
  };
}

function operations(operations: OperationsAdapter, store: Availability): Omit<OperationsStore, 'connectorHealth' | keyof AuditStore> {
  return {
    pendingStats: () => store.read('read deliveries', () => operations.pendingStats()),
    deadStats: () => store.read('read deliveries', () => operations.deadStats()),
    list: (filter) => store.read('read deliveries', () => operations.list(filter)),
    delivery: (id) => store.read('read a delivery', () => operations.delivery(id)),
    trace: (eventId) => store.read('read an event', () => operations.trace(eventId)),
    paused: () => store.read('read pauses', () => operations.paused()),
    replay: (selection, now, actor) => store.write('replay deliveries', () => operations.replay(selection, now, actor)),
    purgeDead: (before, filter) => store.write('purge deliveries', () => operations.purgeDead(before, filter.connector)),
    pause: (connector, now, actor) => store.write('pause a connector', () => operations.pause(connector, now, actor)),
    resume: (connector, now, actor) => store.write('resume a connector', () => operations.resume(connector, now, actor)),
    sizeBytes: () => store.read('read its size', () => operations.sizeBytes()),
    lastReceivedAt: (source, exceptTypes) => store.read('read events', () => operations.lastReceivedAt(source, exceptTypes)),
    storedEventIds: (source, ids) => store.read('read events', () => operations.storedEventIds(source, ids)),
    ...guardOperatorReads(operations, store),
  };
}

function upkeep(adapter: StoreAdapter, store: Availability): UpkeepStore {
  return {
    dueMissedChecks: (now, limit) => store.read('read calls', () => adapter.calls.dueMissedChecks(now, limit)),
    dueSummaries: (now, limit) => store.read('read calls', () => adapter.calls.dueSummaries(now, limit)),
    async prune(now: number, ttlMs: number, limit: number): Promise<PruneResult> {
      const removed = await store.write('prune', () => adapter.prune({ olderThan: now - ttlMs, now, limit }));
      // Either limit reached: another call has work left.
      return { events: removed.events, calls: removed.calls, more: removed.events === limit || removed.calls === limit };
    },
    pruneAudit: (now, ttlMs, limit) => store.write('prune the audit', () => adapter.audit.prune(now - ttlMs, limit)),
  };
}
