import type pg from 'pg';
import type { CanonicalEvent } from '../../dialects/index.js';
import type { CallKey, CallState, CommitRequest, CommitResult } from '../../lifecycle/types.js';
import type { CallsAdapter, LockedCall } from '../core/adapter.js';
import { admitAll, type LockedCalls } from './admission.js';
import { callKeyOf, callQueries, toStoredKey } from './calls.js';
import { exclusively, inTransaction, LOCKS } from './db.js';
import { isContention, isUnavailable, retryingContention } from './errors.js';
import { createGroupCommit } from './group-commit.js';

/** The calls of the PostgreSQL store: commits grouped into transactions, and a call locked by its row. */
export interface PostgresCalls extends CallsAdapter {
  /** Resolves once every commit asked for so far has been answered. */
  drained(): Promise<void>;
}

/**
 * A call's lock is its row's, held to the end of the transaction that took
 * it, so every replica on the database takes turns; a deadlock between two
 * transactions that lock several calls is run again, whole.
 */
export function createPostgresCalls(pool: pg.Pool): PostgresCalls {
  /**
   * One group of commits in one transaction: the calls' locks first, then each request in arrival order, each
   * advancing its call from where the one before left it. A request's own failure is reported as such.
   */
  const writeGroup = (requests: readonly CommitRequest[]): Promise<CommitResult[]> =>
    retryingContention(() =>
      inTransaction(pool, async (client) => {
        const calls = await lockCallsOf(client, requests, Math.max(...requests.map((request) => request.receivedAt)));
        return admitAll(client, requests, calls);
      }),
    );
  // Concurrent webhooks share one transaction and one COMMIT; each still resolves only after it.
  const group = createGroupCommit(writeGroup, (err) => isUnavailable(err) || isContention(err));

  return {
    // The group retries its own deadlocks, in arrival order.
    commit: (request) => group.commit(request),
    withCall: (key, now, task) =>
      retryingContention(() =>
        inTransaction(pool, async (client) => {
          const state = await callQueries.lockExisting(client, key);
          return task(state, lockedCall(client, key, state, now));
        }),
      ),
    // One replica looks for due checks at a time; the others find the lock taken and leave the round to it.
    dueMissedChecks: (now, limit) => exclusively(pool, LOCKS.missedSweep, [], (client) => callQueries.dueMissedChecks(client, now, limit)),
    dueSummaries: (now, limit) => exclusively(pool, LOCKS.summarySweep, [], (client) => callQueries.dueSummaries(client, now, limit)),
    drained: () => group.drained(),
  };
}

/** The call `key`, whose row `client`'s transaction holds locked, as it read it (`state`). */
function lockedCall(client: pg.PoolClient, key: CallKey, state: CallState | undefined, now: number): LockedCall {
  return {
    async event(dedupeKey) {
      const { rows } = await client.query<{ body: string }>('SELECT body FROM events WHERE dedupe_key = $1', [toStoredKey(dedupeKey)]);
      return rows[0] ? (JSON.parse(rows[0].body) as CanonicalEvent) : undefined;
    },
    async events() {
      const { rows } = await client.query<{ body: string }>('SELECT body FROM events WHERE source = $1 AND subject = $2 ORDER BY seq', [key.source, key.callId]);
      return rows.map((row) => JSON.parse(row.body) as CanonicalEvent);
    },
    // In the same transaction as the decision: the derived events commit with it, or not at all.
    commit: async (requests) => admitAll(client, requests, await lockedWith(client, key, state, requests, now)),
    async end(end) {
      if (end.check === 'missed') await callQueries.markNotMissed(client, key, now);
      else await callQueries.endSummaryCheck(client, key, end.revision, now);
    },
  };
}

/** Locks the calls the requests belong to (in one sorted order: see `callQueries.lock`). */
function lockCallsOf(client: pg.PoolClient, requests: readonly CommitRequest[], now: number): Promise<LockedCalls> {
  const keys = new Map<string, CallKey>();
  for (const { event } of requests) {
    if (event.subject !== undefined) keys.set(callKeyOf(event.source, event.subject), { source: event.source, callId: event.subject });
  }
  return callQueries.lock(client, [...keys.values()], now);
}

/** The locked call `key`, plus the locks of any other call the derived requests belong to. */
async function lockedWith(client: pg.PoolClient, key: CallKey, state: CallState | undefined, requests: readonly CommitRequest[], now: number): Promise<LockedCalls> {
  const own = callKeyOf(key.source, key.callId);
  const others = requests.filter(({ event }) => event.subject !== undefined && callKeyOf(event.source, event.subject) !== own);
  // Taken after the call's own lock, out of the sorted order: a deadlock this may cause is retried whole.
  const calls = others.length > 0 ? await lockCallsOf(client, others, now) : new Map<string, CallState | undefined>();
  calls.set(own, state);
  return calls;
}
