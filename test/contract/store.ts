import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { BridgeError } from '../../src/errors.js';
import type { Admission, CallState, ClaimedDelivery, CommitRequest, RouteTarget, Store } from '../../src/store/index.js';

/** A fresh, empty store and how to throw it away. */
export type StoreFactory = () => Promise<{ readonly store: Store; dispose(): Promise<void> }>;

// Exported with `event` for the tests one implementation adds beside the contract.
export const SOURCE = 'audian/contract';
export const T0 = Date.parse('2026-03-01T12:00:00Z');
export const TO_SINK: readonly RouteTarget[] = [{ route: 'all', connector: 'sink' }];
const ONE_PER_CALL = { limit: 100, leaseMs: 60_000, maxPerCall: 1 };
export const MANY_PER_CALL = { limit: 100, leaseMs: 60_000, maxPerCall: 100 };

export function event(id: string, subject: string | undefined, type = 'call.ringing'): CanonicalEvent {
  return {
    specversion: '1.0',
    id,
    source: SOURCE,
    type,
    ...(subject === undefined ? {} : { subject }),
    time: new Date(T0).toISOString(),
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: subject === undefined ? {} : { call_id: subject },
  };
}

/** A commit that routes to `targets` and, for a call, counts its events in the call's tags. */
function request(
  ev: CanonicalEvent,
  options: { receivedAt?: number; targets?: readonly RouteTarget[]; call?: (stored: CallState | undefined) => CallState; delayMs?: number; seen?: (stored: CallState | undefined) => void } = {},
): CommitRequest {
  return {
    event: ev,
    receivedAt: options.receivedAt ?? T0,
    async advance(stored) {
      options.seen?.(stored);
      // Routing is asynchronous (JSONata): another writer of the call must not slip in here.
      if (options.delayMs) await sleep(options.delayMs);
      const call =
        options.call?.(stored) ??
        (ev.subject === undefined
          ? undefined
          : { ...(stored ?? { source: ev.source, callId: ev.subject, answered: false }), tags: { count: Number(stored?.tags?.count ?? 0) + 1 } });
      const admission: Admission = { event: ev, ...(call ? { call } : {}), targets: options.targets ?? TO_SINK };
      return admission;
    },
  };
}

/** A call that ended unanswered at T0, its missed-call check due at `checkAt`. */
function endedCall(callId: string, checkAt: number) {
  return request(event(`${callId}-end`, callId, 'call.completed'), {
    call: () => ({ source: SOURCE, callId, answered: false, endedAt: new Date(T0).toISOString(), endEventKey: `${SOURCE}\u0000call.completed\u0000${callId}-end`, missedCheckAt: checkAt }),
  });
}

function derivedMissed(call: CallState): CommitRequest {
  return request(event(`${call.callId}-end.missed`, call.callId, 'call.missed'), {
    call: (stored) => ({ ...(stored as CallState), missed: 'emitted', missedCheckAt: undefined }),
  });
}

const ids = (claimed: readonly ClaimedDelivery[]) => claimed.map((delivery) => delivery.event.id);
const delivered = (claimed: readonly ClaimedDelivery[]) => claimed.map(({ id, lease }) => ({ id, lease, outcome: 'delivered' as const }));

/**
 * What every store implementation promises (src/store/types.ts), through the
 * interface alone: run it against each implementation on its real backend.
 * The call checks' rules it relies on are tested alone, without a store, in
 * call-checks.test.ts beside this file.
 */
export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeEach(async () => {
      ({ store, dispose } = await factory());
    });
    afterEach(async () => {
      await dispose();
    });

    describe('commit', () => {
      it('dedupes sequential copies: the second stores nothing and is not advanced', async () => {
        let advanced = 0;
        const copy = () => request(event('evt-1', 'call-1'), { seen: () => (advanced += 1) });
        expect(await store.commit(copy())).toEqual({ duplicate: false, targets: TO_SINK });
        expect(await store.commit(copy())).toEqual({ duplicate: true });
        expect(advanced).toBe(1);
        expect(await store.list({})).toHaveLength(1);
      });

      it('dedupes concurrent copies: exactly one of twenty is stored', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.commit(request(event('evt-c', 'call-c')))));
        expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
        expect(await store.list({})).toHaveLength(1);
      });

      it('dedupes on source, type and id: the same id with another type is a new event', async () => {
        await store.commit(request(event('evt-t', 'call-t', 'call.ringing')));
        expect((await store.commit(request(event('evt-t', 'call-t', 'call.answered')))).duplicate).toBe(false);
      });

      it('advances one call under serialization: concurrent writers of a call both land', async () => {
        const seen: (number | undefined)[] = [];
        await Promise.all(
          ['a', 'b', 'c'].map((suffix) =>
            store.commit(request(event(`evt-s-${suffix}`, 'call-s'), { delayMs: 20, seen: (stored) => seen.push(stored?.tags?.count as number | undefined) })),
          ),
        );
        // Each writer saw the one before it: none read the row while another held it.
        expect(seen).toEqual([undefined, 1, 2]);
        let last: CallState | undefined;
        await store.commit(request(event('evt-s-probe', 'call-s'), { seen: (stored) => (last = stored) }));
        expect(last?.tags).toEqual({ count: 3 });
      });

      it('keeps the call row whole across commits (every field round-trips)', async () => {
        const full: CallState = {
          source: SOURCE, callId: 'call-f', direction: 'inbound', from: '+1415', to: '+1416', fromName: 'Ada', status: 'ringing',
          tags: { team: 'support' }, startedAt: '2026-03-01T12:00:00.000Z', answered: true,
        };
        await store.commit(request(event('evt-f-1', 'call-f'), { call: () => full }));
        let stored: CallState | undefined;
        await store.commit(request(event('evt-f-2', 'call-f'), { seen: (state) => (stored = state) }));
        expect(stored).toEqual(full);
      });

      it('numbers deliveries in acceptance order per call', async () => {
        await Promise.all(['1', '2', '3', '4'].map((n) => store.commit(request(event(`evt-o-${n}`, 'call-o'), { delayMs: 5 }))));
        expect(ids(await store.claim('sink', T0, MANY_PER_CALL))).toEqual(['evt-o-1', 'evt-o-2', 'evt-o-3', 'evt-o-4']);
      });

      it('stores the event as advanced (enriched), and one delivery per target', async () => {
        const ev = event('evt-e', 'call-e');
        const targets = [{ route: 'r1', connector: 'sink' }, { route: 'r2', connector: 'other' }];
        await store.commit({
          event: ev,
          receivedAt: T0,
          advance: () => ({ event: { ...ev, data: { ...ev.data, call: { id: 'call-e', direction: 'inbound' } } }, targets }),
        });
        const [claimed] = await store.claim('sink', T0, ONE_PER_CALL);
        expect(claimed?.event.data.call).toEqual({ id: 'call-e', direction: 'inbound' });
        expect(ids(await store.claim('other', T0, ONE_PER_CALL))).toEqual(['evt-e']);
      });
    });

    describe('claim and settle', () => {
      it('hands out only the earliest pending delivery of each call, and the next once it is settled', async () => {
        for (const n of ['1', '2']) {
          await store.commit(request(event(`evt-a${n}`, 'call-a')));
          await store.commit(request(event(`evt-b${n}`, 'call-b')));
        }
        await store.commit(request(event('evt-lone', undefined, 'object.created')));
        const first = await store.claim('sink', T0, ONE_PER_CALL);
        expect(ids(first)).toEqual(['evt-a1', 'evt-b1', 'evt-lone']);
        expect(await store.settle(delivered(first), T0)).toEqual({ written: 3, refused: [] });
        expect(ids(await store.claim('sink', T0, ONE_PER_CALL))).toEqual(['evt-a2', 'evt-b2']);
      });

      it('carries up to maxPerCall deliveries of one call, in order', async () => {
        for (const n of ['1', '2', '3']) await store.commit(request(event(`evt-m${n}`, 'call-m')));
        expect(ids(await store.claim('sink', T0, { ...MANY_PER_CALL, maxPerCall: 2 }))).toEqual(['evt-m1', 'evt-m2']);
      });

      it('fills a batch from the calls with the oldest heads first, a run of each, skipping leased and waiting calls', async () => {
        // Accepted in this order: a1 b1 c1 d1 a2 b2 c2 d2 a3 d3
        for (const n of ['1', '2']) for (const call of ['a', 'b', 'c', 'd']) await store.commit(request(event(`evt-h${call}${n}`, `call-h${call}`)));
        for (const call of ['a', 'd']) await store.commit(request(event(`evt-h${call}3`, `call-h${call}`)));
        const [leased] = await store.claim('sink', T0, { ...ONE_PER_CALL, limit: 1 });
        expect(ids([leased!])).toEqual(['evt-ha1']);
        const [waiting] = await store.claim('sink', T0, { ...ONE_PER_CALL, limit: 1 });
        await store.settle([{ id: waiting!.id, lease: waiting!.lease, outcome: 'retry', at: T0 + 1_000, error: 'busy' }], T0);
        // a is leased and b's head waits for its retry: c and d remain, c's head the older.
        expect(ids(await store.claim('sink', T0, { ...MANY_PER_CALL, limit: 4, maxPerCall: 2 }))).toEqual(['evt-hc1', 'evt-hd1', 'evt-hc2', 'evt-hd2']);
      });

      it('hands out nothing of a call while one of its deliveries is leased', async () => {
        for (const n of ['1', '2']) await store.commit(request(event(`evt-l${n}`, 'call-l')));
        expect(ids(await store.claim('sink', T0, ONE_PER_CALL))).toEqual(['evt-l1']);
        expect(await store.claim('sink', T0 + 1, MANY_PER_CALL)).toEqual([]);
      });

      it('a retry waits, and the later events of its call wait behind it', async () => {
        for (const n of ['1', '2']) await store.commit(request(event(`evt-r${n}`, 'call-r')));
        const [first] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle([{ id: first!.id, lease: first!.lease, outcome: 'retry', at: T0 + 1_000, error: 'timeout' }], T0);
        expect(await store.claim('sink', T0 + 999, MANY_PER_CALL)).toEqual([]);
        expect(await store.nextDueAt('sink')).toBe(T0);
        const again = await store.claim('sink', T0 + 1_000, ONE_PER_CALL);
        expect(again.map((delivery) => [delivery.event.id, delivery.attempts])).toEqual([['evt-r1', 1]]);
      });

      it('a lease is exclusive until it lapses; then the delivery is claimed again and the old lease is refused', async () => {
        await store.commit(request(event('evt-x', 'call-x')));
        const [held] = await store.claim('sink', T0, { ...ONE_PER_CALL, leaseMs: 1_000 });
        expect(await store.claim('sink', T0 + 999, ONE_PER_CALL)).toEqual([]);
        const [taken] = await store.claim('sink', T0 + 1_000, ONE_PER_CALL);
        expect(taken?.id).toBe(held?.id);
        expect(taken?.lease).not.toBe(held?.lease);
        expect(await store.settle(delivered([held!]), T0 + 1_001)).toEqual({ written: 0, refused: [held!.id] });
        expect((await store.list({}))[0]).toMatchObject({ status: 'pending', attempts: 0 });
        expect(await store.settle(delivered([taken!]), T0 + 1_002)).toEqual({ written: 1, refused: [] });
        expect((await store.list({}))[0]).toMatchObject({ status: 'delivered', attempts: 1 });
      });

      it('writes a batch of outcomes at once and reports each delivery as recorded', async () => {
        for (const n of ['1', '2', '3']) await store.commit(request(event(`evt-o${n}`, `call-o${n}`)));
        const [a, b, c] = await store.claim('sink', T0, ONE_PER_CALL);
        const result = await store.settle(
          [
            { id: a!.id, lease: a!.lease, outcome: 'delivered' },
            { id: b!.id, lease: b!.lease, outcome: 'retry', at: T0 + 5_000, error: 'busy' },
            { id: c!.id, lease: c!.lease, outcome: 'dead', error: 'rejected' },
          ],
          T0 + 10,
        );
        expect(result).toEqual({ written: 3, refused: [] });
        const byEvent = Object.fromEntries((await store.list({})).map((record) => [record.eventId, record]));
        expect(byEvent['evt-o1']).toMatchObject({ status: 'delivered', attempts: 1, lastError: null });
        expect(byEvent['evt-o2']).toMatchObject({ status: 'pending', attempts: 1, lastError: 'busy', nextAttemptAt: T0 + 5_000 });
        expect(byEvent['evt-o3']).toMatchObject({ status: 'dead', attempts: 1, lastError: 'rejected' });
        expect(await store.pendingStats()).toEqual([{ connector: 'sink', n: 1, oldest: T0 }]);
        expect((await store.list({ status: 'dead' })).map((record) => record.eventId)).toEqual(['evt-o3']);
      });
    });

    describe('missed-call decisions', () => {
      it('lists due checks and decides each exactly once, however many ask at the same time', async () => {
        await store.commit(endedCall('call-m', T0 + 100));
        expect(await store.dueMissedChecks(T0 + 99, 10)).toEqual([]);
        expect(await store.dueMissedChecks(T0 + 100, 10)).toEqual([{ source: SOURCE, callId: 'call-m' }]);
        let verdicts = 0;
        const decide = () =>
          store.decideMissed({ source: SOURCE, callId: 'call-m' }, T0 + 100, async (call, ending) => {
            verdicts += 1;
            expect(ending?.id).toBe('call-m-end');
            await sleep(10);
            return derivedMissed(call);
          });
        const decisions = await Promise.all([decide(), decide(), decide()]);
        expect(decisions.map((decision) => decision.outcome).sort()).toEqual(['emitted', 'not_due', 'not_due']);
        expect(verdicts).toBe(1);
        expect(await store.dueMissedChecks(T0 + 1_000, 10)).toEqual([]);
        const emitted = decisions.find((decision) => decision.outcome === 'emitted');
        expect(emitted).toMatchObject({ event: { id: 'call-m-end.missed' }, targets: TO_SINK });
      });

      it('records "not missed" when the verdict gives nothing, and a check not yet due is left alone', async () => {
        await store.commit(endedCall('call-n', T0 + 100));
        expect(await store.decideMissed({ source: SOURCE, callId: 'call-n' }, T0 + 50, () => undefined)).toEqual({ outcome: 'not_due' });
        expect(await store.decideMissed({ source: SOURCE, callId: 'call-n' }, T0 + 100, () => undefined)).toEqual({ outcome: 'not_missed' });
        expect(await store.dueMissedChecks(T0 + 1_000, 10)).toEqual([]);
        let stored: CallState | undefined;
        await store.commit(request(event('evt-n-late', 'call-n'), { seen: (state) => (stored = state) }));
        expect(stored).toMatchObject({ missed: 'not_missed' });
        expect(stored?.missedCheckAt).toBeUndefined();
      });

      it('a derived id already taken is recorded as not missed, so the check does not stay due', async () => {
        await store.commit(endedCall('call-d', T0));
        await store.commit(request(event('call-d-end.missed', 'call-d', 'call.missed'), { call: (stored) => stored as CallState }));
        expect(await store.decideMissed({ source: SOURCE, callId: 'call-d' }, T0, (call) => derivedMissed(call))).toEqual({ outcome: 'duplicate' });
        expect(await store.dueMissedChecks(T0 + 1_000, 10)).toEqual([]);
      });

      it('no such call is not due', async () => {
        expect(await store.decideMissed({ source: SOURCE, callId: 'nobody' }, T0, () => undefined)).toEqual({ outcome: 'not_due' });
      });
    });

    describe('call summaries', () => {
      /** A call whose summary is due at `checkAt`, with `summarized` revisions emitted before. */
      function callDue(callId: string, checkAt: number, summarized?: number) {
        return request(event(`${callId}-end`, callId, 'call.completed'), {
          call: (stored) => ({ ...(stored ?? { source: SOURCE, callId, answered: false }), summaryCheckAt: checkAt, ...(summarized ? { summaryRevision: summarized } : {}) }),
        });
      }
      function summaryOf(call: CallState, revision = (call.summaryRevision ?? 0) + 1): CommitRequest {
        return request(event(`${SOURCE}/${call.callId}.summary.${revision}`, call.callId, 'call.summary'), {
          call: (stored) => ({ ...(stored as CallState), summaryRevision: revision, summaryCheckAt: undefined }),
        });
      }

      it('lists due summaries and takes each revision exactly once, however many ask at the same time', async () => {
        await store.commit(request(event('call-s-start', 'call-s', 'call.initiated')));
        await store.commit(callDue('call-s', T0 + 100));
        expect(await store.dueSummaries(T0 + 99, 10)).toEqual([]);
        expect(await store.dueSummaries(T0 + 100, 10)).toEqual([{ source: SOURCE, callId: 'call-s' }]);
        let verdicts = 0;
        const decide = () =>
          store.decideSummary({ source: SOURCE, callId: 'call-s' }, T0 + 100, async (call, events) => {
            verdicts += 1;
            // Every stored event of the call, in acceptance order.
            expect(events.map((ev) => ev.id)).toEqual(['call-s-start', 'call-s-end']);
            await sleep(10);
            return { companions: [request(event('call-s.transcript.1', 'call-s', 'transcript.completed'), { call: (stored) => stored as CallState })], summary: summaryOf(call) };
          });
        const decisions = await Promise.all([decide(), decide(), decide()]);
        expect(decisions.map((decision) => decision.outcome).sort()).toEqual(['emitted', 'not_due', 'not_due']);
        expect(verdicts).toBe(1);
        const emitted = decisions.find((decision) => decision.outcome === 'emitted');
        expect(emitted).toMatchObject({ events: [{ id: 'call-s.transcript.1' }, { id: `${SOURCE}/call-s.summary.1` }], targets: [...TO_SINK, ...TO_SINK] });
        expect(await store.dueSummaries(T0 + 1_000, 10)).toEqual([]);
      });

      it('a later event asks for the next revision, which sees the one before', async () => {
        await store.commit(callDue('call-r', T0));
        await store.decideSummary({ source: SOURCE, callId: 'call-r' }, T0, (call) => ({ companions: [], summary: summaryOf(call) }));
        await store.commit(request(event('call-r-recording', 'call-r', 'recording.completed'), { call: (stored) => ({ ...(stored as CallState), summaryCheckAt: T0 + 50 }) }));
        const second = await store.decideSummary({ source: SOURCE, callId: 'call-r' }, T0 + 50, (call, events) => {
          expect(call.summaryRevision).toBe(1);
          expect(events.map((ev) => ev.id)).toEqual(['call-r-end', `${SOURCE}/call-r.summary.1`, 'call-r-recording']);
          return { companions: [], summary: summaryOf(call) };
        });
        expect(second).toMatchObject({ outcome: 'emitted', events: [{ id: `${SOURCE}/call-r.summary.2` }] });
      });

      it('nothing to summarize or a summary id already taken ends the check', async () => {
        await store.commit(callDue('call-e', T0));
        expect(await store.decideSummary({ source: SOURCE, callId: 'call-e' }, T0, () => undefined)).toEqual({ outcome: 'none' });
        expect(await store.dueSummaries(T0 + 1_000, 10)).toEqual([]);

        await store.commit(callDue('call-t', T0));
        await store.commit(request(event(`${SOURCE}/call-t.summary.1`, 'call-t', 'call.summary'), { call: (stored) => stored as CallState }));
        expect(await store.decideSummary({ source: SOURCE, callId: 'call-t' }, T0, (call) => ({ companions: [], summary: summaryOf(call) }))).toEqual({ outcome: 'duplicate' });
        expect(await store.dueSummaries(T0 + 1_000, 10)).toEqual([]);
        expect(await store.decideSummary({ source: SOURCE, callId: 'nobody' }, T0, () => undefined)).toEqual({ outcome: 'not_due' });
      });
    });

    describe('skipped deliveries', () => {
      it('a skipped outcome is final, listed as skipped with its reason, and lets the call go on', async () => {
        await store.commit(request(event('evt-k1', 'call-k')));
        await store.commit(request(event('evt-k2', 'call-k')));
        const [first] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle([{ id: first!.id, lease: first!.lease, outcome: 'skipped', reason: 'older than the last update' }], T0);
        expect(ids(await store.claim('sink', T0, ONE_PER_CALL))).toEqual(['evt-k2']);
        const skipped = await store.list({ status: 'skipped' });
        expect(skipped.map((row) => [row.eventId, row.status, row.skipReason])).toEqual([['evt-k1', 'skipped', 'older than the last update']]);
        expect((await store.list({ status: 'delivered' })).map((row) => row.eventId)).not.toContain('evt-k1');
        expect((await store.pendingStats()).find((stats) => stats.connector === 'sink')?.n).toBe(1);
      });

      it('keeps a skipped attempt in the history with its reason; a resend by id clears the reason', async () => {
        await store.commit(request(event('evt-ks', 'call-ks')));
        const [first] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle([{ id: first!.id, lease: first!.lease, outcome: 'skipped', reason: 'stale', durationMs: 3 }], T0 + 5);
        expect((await store.delivery(first!.id))?.history).toEqual([{ at: T0 + 2, outcome: 'skipped', error: 'stale', durationMs: 3 }]);
        expect(await store.replay({ ids: [first!.id] }, T0 + 10)).toEqual({ queued: [first!.id], skipped: [] });
        const resent = await store.delivery(first!.id);
        expect(resent).toMatchObject({ status: 'pending', replay: 1 });
        expect(resent?.skipReason).toBeUndefined();
        const [again] = await store.claim('sink', T0 + 10, ONE_PER_CALL);
        await store.settle([{ id: again!.id, lease: again!.lease, outcome: 'delivered' }], T0 + 20);
        expect(await store.delivery(first!.id)).toMatchObject({ status: 'delivered', replay: 1 });
      });
    });

    describe('prune', () => {
      const DAY = 24 * 3600 * 1000;

      it('forgets old events and calls, but keeps pending deliveries and undecided checks', async () => {
        await store.commit(request(event('evt-done', 'call-done')));
        await store.commit(request(event('evt-pending', 'call-pending')));
        await store.commit(endedCall('call-undecided', T0 + 2 * DAY));
        const claimed = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle(delivered(claimed.filter((delivery) => delivery.event.id !== 'evt-pending')), T0);

        const removed = await store.prune(T0 + 2 * DAY, DAY, 1_000);
        // Calls need no delivery: both decided ones go, the undecided one stays.
        expect(removed).toEqual({ events: 1, calls: 2, more: false });
        // Forgotten: the same event is new again. Kept: still a duplicate.
        expect((await store.commit(request(event('evt-done', 'call-done'), { receivedAt: T0 + 2 * DAY }))).duplicate).toBe(false);
        expect((await store.commit(request(event('evt-pending', 'call-pending')))).duplicate).toBe(true);
        expect((await store.commit(request(event('call-undecided-end', 'call-undecided', 'call.completed')))).duplicate).toBe(true);
        const decision = await store.decideMissed({ source: SOURCE, callId: 'call-undecided' }, T0 + 2 * DAY, (call, ending) => {
          expect(ending?.id).toBe('call-undecided-end');
          return undefined;
        });
        expect(decision).toEqual({ outcome: 'not_missed' });
      });

      it('keeps a call whose summary is not yet due, and all its events, past the ttl; forgets them once it is taken', async () => {
        await store.commit(request(event('evt-sd-start', 'call-sd', 'call.initiated'), {
          targets: [],
          call: () => ({ source: SOURCE, callId: 'call-sd', answered: false, summaryCheckAt: T0 + 3 * DAY }),
        }));
        expect(await store.prune(T0 + 2 * DAY, DAY, 1_000)).toMatchObject({ events: 0, calls: 0 });
        expect(await store.dueSummaries(T0 + 3 * DAY, 10)).toEqual([{ source: SOURCE, callId: 'call-sd' }]);
        const decision = await store.decideSummary({ source: SOURCE, callId: 'call-sd' }, T0 + 3 * DAY, (call, events) => {
          expect(events.map((ev) => ev.id)).toEqual(['evt-sd-start']);
          return undefined;
        });
        expect(decision).toEqual({ outcome: 'none' });
        expect(await store.prune(T0 + 5 * DAY, DAY, 1_000)).toMatchObject({ events: 1, calls: 1 });
      });

      it('does bounded work per call and says when more is left', async () => {
        for (const n of ['1', '2', '3']) await store.commit(request(event(`evt-p${n}`, undefined, 'object.created'), { targets: [] }));
        expect(await store.prune(T0 + 2 * DAY, DAY, 2)).toMatchObject({ events: 2, more: true });
        expect(await store.prune(T0 + 2 * DAY, DAY, 2)).toMatchObject({ events: 1, more: false });
      });
    });

    describe('operations', () => {
      const DAY = 24 * 3600 * 1000;
      /** Claims everything due for `sink` and settles each with `outcome` (dead: permanent). */
      async function settleAll(at: number, outcome: 'delivered' | 'dead', durationMs = 12) {
        const claimed = await store.claim('sink', at, MANY_PER_CALL);
        await store.settle(
          claimed.map(({ id, lease }) => (outcome === 'delivered' ? { id, lease, outcome, durationMs } : { id, lease, outcome, error: 'rejected', durationMs })),
          at,
        );
        return claimed;
      }

      it('keeps dead deliveries and their events through pruning past dedupe_ttl; they stay replayable', async () => {
        await store.commit(request(event('evt-dead', 'call-dead')));
        await store.commit(request(event('evt-gone', 'call-gone')));
        const claimed = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle(claimed.map(({ id, lease, event: ev }) => (ev.id === 'evt-dead' ? { id, lease, outcome: 'dead' as const, error: 'no' } : { id, lease, outcome: 'delivered' as const })), T0);
        expect(await store.prune(T0 + 30 * DAY, DAY, 1_000)).toMatchObject({ events: 1 });
        expect((await store.list({})).map((record) => [record.eventId, record.status])).toEqual([['evt-dead', 'dead']]);
        expect(await store.deadStats()).toEqual([{ connector: 'sink', n: 1 }]);
        const [dead] = await store.list({ status: 'dead' });
        expect(await store.replay({ ids: [dead!.id] }, T0 + 30 * DAY)).toEqual({ queued: [dead!.id], skipped: [] });
        const again = await store.claim('sink', T0 + 30 * DAY, ONE_PER_CALL);
        expect(again.map((delivery) => [delivery.event.id, delivery.attempts, delivery.since, delivery.replay])).toEqual([['evt-dead', 0, T0 + 30 * DAY, 0]]);
      });

      it('replays by id: dead with a fresh budget, delivered as a counted resend, pending and unknown ids skipped', async () => {
        for (const n of ['1', '2', '3']) await store.commit(request(event(`evt-r${n}`, `call-r${n}`)));
        const [one, two] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle([{ id: one!.id, lease: one!.lease, outcome: 'delivered' }, { id: two!.id, lease: two!.lease, outcome: 'dead', error: 'x' }], T0);
        const three = (await store.list({ event: 'evt-r3' }))[0]!;
        const result = await store.replay({ ids: [one!.id, two!.id, three.id, 9_999_999] }, T0 + 10);
        expect(result).toEqual({ queued: [one!.id, two!.id], skipped: [{ id: three.id, reason: 'pending' }, { id: 9_999_999, reason: 'not_found' }] });
        const byEvent = Object.fromEntries((await store.list({})).map((record) => [record.eventId, record]));
        expect(byEvent['evt-r1']).toMatchObject({ status: 'pending', replay: 1, attempts: 0 });
        expect(byEvent['evt-r2']).toMatchObject({ status: 'pending', replay: 0, attempts: 0 });
        const claimed = await store.claim('sink', T0 + 10, ONE_PER_CALL);
        expect(claimed.find((delivery) => delivery.event.id === 'evt-r1')).toMatchObject({ replay: 1, since: T0 + 10 });
      });

      it('replays by filter only dead deliveries that match, and purges dead ones older than a time', async () => {
        await store.commit(request(event('evt-f1', 'call-f1')));
        await store.commit(request(event('evt-f2', 'call-f2'), { targets: [{ route: 'other', connector: 'sink' }] }));
        await store.commit(request(event('evt-f3', 'call-f3')));
        await settleAll(T0, 'dead');
        expect((await store.replay({ filter: { route: 'all', since: T0 } }, T0 + 5)).queued).toHaveLength(2);
        expect((await store.list({ status: 'dead' })).map((record) => record.eventId)).toEqual(['evt-f2']);
        expect(await store.purgeDead(T0, {})).toBe(0);
        expect(await store.purgeDead(T0 + 1, { connector: 'elsewhere' })).toBe(0);
        expect(await store.purgeDead(T0 + 1, {})).toBe(1);
        expect(await store.deadStats()).toEqual([]);
      });

      it('keeps every attempt of a delivery, with time, outcome, error and duration', async () => {
        await store.commit(request(event('evt-h', 'call-h')));
        const [first] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle([{ id: first!.id, lease: first!.lease, outcome: 'retry', at: T0 + 100, error: 'busy', durationMs: 40 }], T0 + 50);
        const [second] = await store.claim('sink', T0 + 100, ONE_PER_CALL);
        await store.settle([{ id: second!.id, lease: second!.lease, outcome: 'delivered', durationMs: 7 }], T0 + 110);
        const detail = await store.delivery(first!.id);
        expect(detail).toMatchObject({ eventId: 'evt-h', status: 'delivered', attempts: 2, callId: 'call-h', source: SOURCE, route: 'all' });
        expect(detail?.history).toEqual([
          { at: T0 + 10, outcome: 'retry', error: 'busy', durationMs: 40 },
          { at: T0 + 103, outcome: 'delivered', error: null, durationMs: 7 },
        ]);
        expect(await store.delivery(9_999_999)).toBeUndefined();
      });

      it('lists with filters, newest first, and pages on below a cursor', async () => {
        for (const n of ['1', '2', '3', '4']) await store.commit(request(event(`evt-l${n}`, n === '4' ? 'call-other' : 'call-l'), { receivedAt: T0 + Number(n) }));
        expect((await store.list({ call: 'call-l' })).map((record) => record.eventId)).toEqual(['evt-l3', 'evt-l2', 'evt-l1']);
        expect((await store.list({ event: 'evt-l4', route: 'all', connector: 'sink', status: 'pending' })).map((record) => record.eventId)).toEqual(['evt-l4']);
        expect((await store.list({ since: T0 + 3 })).map((record) => record.eventId)).toEqual(['evt-l4', 'evt-l3']);
        const first = await store.list({ limit: 2 });
        const next = await store.list({ limit: 2, before: first.at(-1)!.id });
        expect([...first, ...next].map((record) => record.eventId)).toEqual(['evt-l4', 'evt-l3', 'evt-l2', 'evt-l1']);
      });

      it('traces an event id: each stored event with its call and deliveries, newest first', async () => {
        await store.commit(request(event('evt-tr', 'call-tr', 'call.ringing')));
        await store.commit(request(event('evt-tr', 'call-tr', 'call.answered')));
        const traces = await store.trace('evt-tr');
        expect(traces.map((trace) => trace.event.type)).toEqual(['call.answered', 'call.ringing']);
        expect(traces[0]).toMatchObject({ receivedAt: T0, call: { callId: 'call-tr', tags: { count: 2 } }, deliveries: [{ eventId: 'evt-tr', connector: 'sink' }] });
        expect(await store.trace('nobody')).toEqual([]);
      });

      it('a paused connector gets nothing claimed and no due time; resume restarts the age of what waited', async () => {
        await store.commit(request(event('evt-p', 'call-p')));
        expect(await store.pause('sink', T0 + 1)).toBe(true);
        expect(await store.pause('sink', T0 + 2)).toBe(false);
        expect(await store.paused()).toEqual([{ connector: 'sink', since: T0 + 1 }]);
        expect(await store.claim('sink', T0 + DAY, ONE_PER_CALL)).toEqual([]);
        expect(await store.nextDueAt('sink')).toBeUndefined();
        expect(await store.resume('sink', T0 + DAY)).toBe(true);
        expect(await store.resume('sink', T0 + DAY)).toBe(false);
        expect(await store.paused()).toEqual([]);
        const [claimed] = await store.claim('sink', T0 + DAY, ONE_PER_CALL);
        expect(claimed).toMatchObject({ since: T0 + DAY, attempts: 0 });
      });
    });

    describe('connector health', () => {
      const down = { connector: 'sink', state: 'down' as const, since: T0, reason: 'connect ECONNREFUSED', until: T0 + 1_000, flaps: 0, version: 1 };

      it('records health compare-and-set: of two writers over one version, one wins', async () => {
        expect(await store.connectorHealth()).toEqual([]);
        expect(await store.recordHealth(down, T0)).toBe(true);
        expect(await store.recordHealth({ ...down, reason: 'other' }, T0)).toBe(false);
        const probed = { ...down, until: T0 + 2_000, reason: 'still refused', version: 2 };
        const results = await Promise.all([store.recordHealth(probed, T0 + 1_000), store.recordHealth({ ...probed, until: T0 + 3_000 }, T0 + 1_000)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.connectorHealth()).toEqual([expect.objectContaining({ connector: 'sink', state: 'down', since: T0, version: 2, reason: 'still refused' })]);
      });

      it('a held outcome spends no attempt, keeps no history and releases the lease; up makes what waited due with a fresh budget', async () => {
        for (const n of ['1', '2']) await store.commit(request(event(`evt-hh${n}`, `call-hh${n}`)));
        const [first, second] = await store.claim('sink', T0, ONE_PER_CALL);
        await store.settle(
          [
            { id: first!.id, lease: first!.lease, outcome: 'held', error: 'connect ECONNREFUSED', durationMs: 3 },
            { id: second!.id, lease: second!.lease, outcome: 'retry', at: T0 + 3_600_000, error: 'answered 503' },
          ],
          T0 + 5,
        );
        expect(await store.delivery(first!.id)).toMatchObject({ status: 'pending', attempts: 0, lastError: 'connect ECONNREFUSED', history: [] });
        expect(await store.recordHealth(down, T0 + 5)).toBe(true);
        expect(await store.recordHealth({ ...down, state: 'up', since: T0 + 7_200_000, reason: null, until: null, version: 2 }, T0 + 7_200_000)).toBe(true);
        const claimed = await store.claim('sink', T0 + 7_200_000, ONE_PER_CALL);
        expect(claimed.map((delivery) => [delivery.event.id, delivery.attempts, delivery.since])).toEqual([
          ['evt-hh1', 0, T0 + 7_200_000],
          ['evt-hh2', 1, T0 + 7_200_000],
        ]);
        expect(await store.connectorHealth()).toEqual([{ connector: 'sink', state: 'up', since: T0 + 7_200_000, reason: null, until: null, flaps: 0, version: 2 }]);
      });
    });

    describe('connector state', () => {
      it('keeps a value per connector until it expires', async () => {
        let clock = T0;
        const slack = store.connectorState('slack', () => clock);
        const other = store.connectorState('other', () => clock);
        await slack.set('thread', 'ts-1', T0 + 1_000);
        expect(await slack.get('thread')).toBe('ts-1');
        expect(await other.get('thread')).toBeUndefined();
        clock = T0 + 999;
        expect(await slack.get('thread')).toBe('ts-1');
        clock = T0 + 1_000;
        expect(await slack.get('thread')).toBeUndefined();
        await slack.set('thread', 'ts-2', T0 + 5_000);
        expect(await slack.get('thread')).toBe('ts-2');
      });

      it('holds the keys the connectors build, NUL separators and backslashes included, each apart', async () => {
        const state = store.connectorState('crm', () => T0);
        const keys = ['stale-guard\u0000audian/main\u0000call-1', 'stale-guard\\0audian/main\\0call-1', 'stale-guard\\\u0000audian/main\u0000call-1'];
        for (const [index, key] of keys.entries()) await state.set(key, `mark-${index}`, T0 + 1_000);
        for (const [index, key] of keys.entries()) expect(await state.get(key)).toBe(`mark-${index}`);
      });
    });

    describe('availability', () => {
      it('answers ping while open; once closed, fails with STORE_UNAVAILABLE, never a driver error', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await store.close();
        for (const attempt of [store.ping(), store.list({}), store.commit(request(event('evt-closed', 'call-closed')))]) {
          const err = await attempt.then(() => undefined, (error: unknown) => error);
          expect(err).toBeInstanceOf(BridgeError);
          expect((err as BridgeError).code).toBe('STORE_UNAVAILABLE');
        }
      });
    });
  });
}
