import type { Logger } from 'pino';
import type { CanonicalEvent } from './dialects/index.js';
import {
  advanceCall,
  buildMissedEvent,
  concernsCall,
  enrichEvent,
  isMissed,
  type CallState,
  type LifecycleOptions,
} from './lifecycle/call-state.js';
import type { Router } from './routing/router.js';
import { createGroupCommit } from './store/group-commit.js';
import { dedupeKeyOf, type Store } from './store/index.js';

export interface AcceptResult {
  readonly duplicate: boolean;
  readonly id: string;
  readonly deliveries: number;
}

export interface AcceptorDeps {
  readonly store: Store;
  readonly router: Router;
  readonly lifecycle: LifecycleOptions;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Told after each commit which connectors got new deliveries, so the dispatcher wakes at once. */
  readonly onCommitted?: (connectors: ReadonlySet<string>) => void;
}

/**
 * Runs `task` after every earlier task with the same key has finished. Events
 * of one call pass through one at a time: reading the call's row, routing
 * (asynchronous, for JSONata) and committing never interleave with another
 * event of the same call, and their deliveries are numbered in that order.
 */
function createKeyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async function run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/** Accepts canonical events: call lifecycle, routing and one commit each (DESIGN.md, "The data flow"). */
export function createAcceptor(deps: AcceptorDeps) {
  const { store, router, lifecycle } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'accept' });
  const queue = createKeyedQueue();
  // Concurrent webhooks share one transaction and one fsync; each still answers only after it.
  const commit = createGroupCommit(store.db, store.commit);

  async function acceptInOrder(event: CanonicalEvent, receivedAt: number): Promise<AcceptResult> {
    const dedupeKey = dedupeKeyOf(event);
    // Cheap early answer for retries; the commit's unique key is what actually decides.
    if (store.hasEvent(dedupeKey)) return { duplicate: true, id: event.id, deliveries: 0 };
    let call: CallState | undefined;
    if (concernsCall(event)) {
      call = advanceCall(store.calls.get(event.source, event.subject as string), event, dedupeKey, receivedAt, lifecycle);
      enrichEvent(event, call);
    }
    const targets = await router.route(event);
    const result = await commit({ event, dedupeKey, receivedAt, ...(call ? { call } : {}), targets });
    if (result.duplicate) return { duplicate: true, id: event.id, deliveries: 0 };
    if (targets.length > 0) deps.onCommitted?.(new Set(targets.map((target) => target.connector)));
    return { duplicate: false, id: event.id, deliveries: result.deliveries };
  }

  function callKey(source: string, callId: string): string {
    return `${source}\u0000${callId}`;
  }

  return {
    /** Resolves only after the event and its deliveries are committed. */
    accept(event: CanonicalEvent, receivedAt: number): Promise<AcceptResult> {
      if (event.subject === undefined) return acceptInOrder(event, receivedAt);
      return queue(callKey(event.source, event.subject), () => acceptInOrder(event, receivedAt));
    },

    /**
     * Decides a call whose missed-call grace period is over: emits `call.missed`
     * through the same path as any event, or records that it was not missed.
     */
    decideMissed(source: string, callId: string): Promise<CanonicalEvent | undefined> {
      return queue(callKey(source, callId), async () => {
        const at = now();
        const state = store.calls.get(source, callId);
        if (!state || state.missedCheckAt === undefined || state.missedCheckAt > at) return undefined;
        const ending = state.endEventKey ? store.getEvent(state.endEventKey) : undefined;
        if (!ending || !isMissed(state, lifecycle)) {
          store.calls.markNotMissed(source, callId, at);
          return undefined;
        }
        const missed = buildMissedEvent(state, ending);
        const result = await acceptInOrder(missed, at);
        if (result.duplicate) {
          // Another call's ending event had the same id and type (providers' sample payloads
          // reuse ids), so this id is taken: record the decision, or the check stays due forever.
          store.calls.markNotMissed(source, callId, at);
          logger.warn({ callId, eventId: missed.id }, 'call missed, but its call.missed id was already used; no alert');
          return undefined;
        }
        logger.info({ callId, eventId: missed.id }, 'call missed');
        return missed;
      });
    },
  };
}

export type Acceptor = ReturnType<typeof createAcceptor>;
