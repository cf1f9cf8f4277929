import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { digitsOf, type CallState, type CommitRequest, type RouteTarget, type Store } from '../../src/store/index.js';
import type { StoreFactory } from './store.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MAIN = 'audian/main';
const OTHER = 'audian/other';
const CLAIM = { limit: 100, leaseMs: 60_000, maxPerCall: 100 };

function event(id: string, options: { source?: string; subject?: string; type?: string } = {}): CanonicalEvent {
  return {
    specversion: '1.0',
    id,
    source: options.source ?? MAIN,
    type: options.type ?? 'call.ringing',
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    time: new Date(T0).toISOString(),
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: options.subject === undefined ? {} : { call_id: options.subject },
  };
}

/** A commit at `at` to `targets`; an event of a call saves the call with `parties` over what was stored. */
function commit(ev: CanonicalEvent, at: number, targets: readonly RouteTarget[], parties: Partial<CallState> = {}): CommitRequest {
  return {
    event: ev,
    receivedAt: at,
    advance(stored) {
      const call = ev.subject === undefined ? undefined : { ...(stored ?? { source: ev.source, callId: ev.subject, answered: false }), ...parties };
      return { event: ev, ...(call ? { call } : {}), targets };
    },
  };
}

const TO_CRM: readonly RouteTarget[] = [{ route: 'crm-calls', connector: 'crm' }];
const TO_BOTH: readonly RouteTarget[] = [{ route: 'crm-calls', connector: 'crm' }, { route: 'alerts', connector: 'slack' }];

/**
 * The reads of src/store/operator-reads.ts, through the store interface
 * alone: run against each implementation on its real backend.
 */
export function describeOperatorReadsContract(name: string, factory: StoreFactory): void {
  describe(`operator reads contract: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeEach(async () => {
      ({ store, dispose } = await factory());
    });
    afterEach(async () => {
      await dispose();
    });

    /** Settles every due delivery of `connector` at `at`, each as `outcome(eventId)` says. */
    async function settle(connector: string, at: number, outcome: (eventId: string) => 'delivered' | 'dead' | 'retry' | 'skipped') {
      const claimed = await store.claim(connector, at, CLAIM);
      await store.settle(
        claimed.map(({ id, lease, event: ev }) => {
          const chosen = outcome(ev.id);
          if (chosen === 'delivered') return { id, lease, outcome: chosen };
          if (chosen === 'skipped') return { id, lease, outcome: chosen, reason: 'older than one sent' };
          if (chosen === 'retry') return { id, lease, outcome: chosen, at: at + 60_000, error: `retry ${ev.id}` };
          return { id, lease, outcome: chosen, error: `dead ${ev.id}` };
        }),
        at,
      );
    }

    describe('searchDeliveries', () => {
      beforeEach(async () => {
        await store.commit(commit(event('e1', { subject: 'call-a', type: 'call.initiated' }), T0, TO_BOTH));
        await store.commit(commit(event('e2', { subject: 'call-a', type: 'call.completed' }), T0 + 1000, TO_BOTH));
        await store.commit(commit(event('e3', { subject: 'call-b', type: 'call.initiated' }), T0 + 2000, TO_CRM));
        await store.commit(commit(event('e4', { type: 'object.updated' }), T0 + 3000, TO_CRM));
        await store.commit(commit(event('e1', { source: OTHER, subject: 'call-a', type: 'call.initiated' }), T0 + 4000, TO_CRM));
        await settle('crm', T0 + 5000, (id) => (id === 'e1' ? 'dead' : id === 'e2' ? 'skipped' : id === 'e3' ? 'delivered' : 'retry'));
      });
      const shown = async (search: Parameters<Store['searchDeliveries']>[0]) =>
        (await store.searchDeliveries(search)).map((record) => `${record.eventId}/${record.source === OTHER ? 'other' : 'main'}/${record.connector}/${record.status}`);

      it('filters by several statuses at once, newest first; skipped is its own status', async () => {
        expect(await shown({ statuses: ['dead', 'pending'], connector: 'crm', limit: 10 })).toEqual(['e1/other/crm/dead', 'e4/main/crm/pending', 'e1/main/crm/dead']);
        expect(await shown({ statuses: ['skipped'], limit: 10 })).toEqual(['e2/main/crm/skipped']);
        expect(await shown({ statuses: ['delivered'], limit: 10 })).toEqual(['e3/main/crm/delivered']);
        expect(await shown({ statuses: ['pending'], connector: 'slack', limit: 10 })).toEqual(['e2/main/slack/pending', 'e1/main/slack/pending']);
      });

      it('combines connector, route, event type and a time range [since, until)', async () => {
        expect(await shown({ route: 'crm-calls', type: 'call.initiated', limit: 10 })).toEqual(['e1/other/crm/dead', 'e3/main/crm/delivered', 'e1/main/crm/dead']);
        expect(await shown({ type: 'call.initiated', since: T0 + 1000, until: T0 + 4000, limit: 10 })).toEqual(['e3/main/crm/delivered']);
        expect(await shown({ connector: 'slack', until: T0 + 1000, limit: 10 })).toEqual(['e1/main/slack/pending']);
      });

      it('finds a call across sources, an event by id, and both together', async () => {
        expect(await shown({ call: 'call-a', connector: 'crm', limit: 10 })).toEqual(['e1/other/crm/dead', 'e2/main/crm/skipped', 'e1/main/crm/dead']);
        expect(await shown({ event: 'e1', limit: 10 })).toEqual(['e1/other/crm/dead', 'e1/main/slack/pending', 'e1/main/crm/dead']);
        expect(await shown({ event: 'e1', call: 'call-b', limit: 10 })).toEqual([]);
        expect(await shown({ event: 'e3', call: 'call-b', statuses: ['delivered'], limit: 10 })).toEqual(['e3/main/crm/delivered']);
        expect(await shown({ call: 'no-such-call', limit: 10 })).toEqual([]);
      });

      it('pages with before: every row once, in order', async () => {
        const all = await store.searchDeliveries({ limit: 100 });
        expect(all).toHaveLength(7);
        const seen: number[] = [];
        for (let before: number | undefined; ; ) {
          const page = await store.searchDeliveries({ limit: 3, ...(before === undefined ? {} : { before }) });
          seen.push(...page.map((record) => record.id));
          if (page.length < 3) break;
          before = page.at(-1)!.id;
        }
        expect(seen).toEqual(all.map((record) => record.id));
        const viaCall = await store.searchDeliveries({ call: 'call-a', limit: 2 });
        expect(await store.searchDeliveries({ call: 'call-a', limit: 10, before: viaCall.at(-1)!.id })).toHaveLength(3);
      });
    });

    describe('activityAfter', () => {
      it('starts at the newest, then gives what is stored after its cursor, oldest first, by limit', async () => {
        await store.commit(commit(event('before', { subject: 'call-a' }), T0, TO_CRM));
        await settle('crm', T0 + 10, () => 'delivered');
        const start = await store.activityAfter(undefined, 10);
        expect(start.events).toEqual([]);
        expect(start.attempts).toEqual([]);

        await store.commit(commit(event('e1', { subject: 'call-a', type: 'call.initiated' }), T0 + 1000, TO_CRM));
        await store.commit(commit(event('e2', { type: 'object.updated' }), T0 + 2000, TO_BOTH));
        await settle('crm', T0 + 3000, (id) => (id === 'e1' ? 'delivered' : 'retry'));

        const first = await store.activityAfter(start.cursor, 1);
        expect(first.events.map((stored) => [stored.event.id, stored.receivedAt])).toEqual([['e1', T0 + 1000]]);
        expect(first.attempts).toHaveLength(1);
        const rest = await store.activityAfter(first.cursor, 10);
        expect(rest.events.map((stored) => stored.event.id)).toEqual(['e2']);
        const attempts = [...first.attempts, ...rest.attempts];
        expect(attempts).toEqual([
          expect.objectContaining({ eventId: 'e1', type: 'call.initiated', source: MAIN, callId: 'call-a', connector: 'crm', route: 'crm-calls', outcome: 'delivered', error: null, at: T0 + 3000, receivedAt: T0 + 1000 }),
          expect.objectContaining({ eventId: 'e2', type: 'object.updated', callId: null, connector: 'crm', outcome: 'retry', error: 'retry e2', receivedAt: T0 + 2000 }),
        ]);
        expect(typeof attempts[0]!.deliveryId).toBe('number');

        const after = await store.activityAfter(rest.cursor, 10);
        expect(after).toEqual({ events: [], attempts: [], cursor: rest.cursor });
        await settle('slack', T0 + 4000, () => 'dead');
        const dead = await store.activityAfter(rest.cursor, 10);
        expect(dead.events).toEqual([]);
        expect(dead.attempts.map((attempt) => [attempt.eventId, attempt.connector, attempt.outcome, attempt.error])).toEqual([['e2', 'slack', 'dead', 'dead e2']]);
      });
    });

    describe('calls and their events', () => {
      beforeEach(async () => {
        await store.commit(commit(event('c1-init', { subject: 'c1', type: 'call.initiated' }), T0, TO_CRM, { from: '+14155550100', to: '+4930123456', direction: 'inbound' }));
        await store.commit(commit(event('c2-init', { subject: 'c2', type: 'call.initiated' }), T0 + 1000, TO_CRM, { from: '+4930123456', to: '+1 (415) 555-0100', direction: 'outbound' }));
        await store.commit(commit(event('c3-init', { subject: 'c3', type: 'call.initiated' }), T0 + 2000, TO_CRM, { from: 'sip:14155550100@pbx.example.com', to: 'anonymous' }));
        await store.commit(commit(event('c1-init', { source: OTHER, subject: 'c1', type: 'call.initiated' }), T0 + 3000, TO_CRM, { from: '415.555.0100' }));
        await store.commit(commit(event('c1-end', { subject: 'c1', type: 'call.completed' }), T0 + 4000, TO_BOTH));
        await store.commit(commit(event('c1-ans', { subject: 'c1', type: 'call.answered' }), T0 + 5000, TO_CRM));
      });

      it('finds calls by the digits of the caller or the callee, however they were written, most recently changed first', async () => {
        expect(digitsOf('+1 415-555-0100')).toBe('14155550100');
        const found = await store.callsWithNumber(digitsOf('+1 415-555-0100'), 10);
        expect(found.map((call) => [call.source, call.callId, call.from, call.to])).toEqual([
          [MAIN, 'c1', '+14155550100', '+4930123456'],
          [MAIN, 'c2', '+4930123456', '+1 (415) 555-0100'],
        ]);
        expect(found[0]!.updatedAt).toBe(T0 + 5000);
        expect((await store.callsWithNumber('4155550100', 10)).map((call) => call.source)).toEqual([OTHER]);
        expect((await store.callsWithNumber(digitsOf('+49 30 123456'), 1)).map((call) => call.callId)).toEqual(['c1']);
        expect(await store.callsWithNumber('0000', 10)).toEqual([]);
      });

      it('finds a call by id in every source that has it', async () => {
        const calls = await store.callsWithId('c1');
        expect(calls.map((call) => [call.source, call.from])).toEqual([[MAIN, '+14155550100'], [OTHER, '415.555.0100']]);
        expect(calls[0]).toMatchObject({ direction: 'inbound', answered: false });
        expect(await store.callsWithId('nope')).toEqual([]);
      });

      it("reads a call's events in the order they were accepted, with when, and its deliveries", async () => {
        const events = await store.eventsOfCall('c1', 100);
        expect(events.map((stored) => [stored.event.id, stored.event.source, stored.receivedAt])).toEqual([
          ['c1-init', MAIN, T0],
          ['c1-init', OTHER, T0 + 3000],
          ['c1-end', MAIN, T0 + 4000],
          ['c1-ans', MAIN, T0 + 5000],
        ]);
        expect((await store.eventsOfCall('c1', 2)).map((stored) => stored.event.source)).toEqual([MAIN, OTHER]);
        const deliveries = await store.deliveriesOfCall('c1', 100);
        expect(deliveries.map((record) => `${record.eventId}/${record.connector}`)).toEqual(['c1-init/crm', 'c1-init/crm', 'c1-end/crm', 'c1-end/slack', 'c1-ans/crm']);
        expect(deliveries.map((record) => record.id)).toEqual([...deliveries.map((record) => record.id)].sort((a, b) => a - b));
        expect(await store.eventsOfCall('nope', 10)).toEqual([]);
      });
    });

    describe('listEvents', () => {
      beforeEach(async () => {
        await store.commit(commit(event('e1', { subject: 'call-a', type: 'call.initiated' }), T0, TO_CRM));
        await store.commit(commit(event('e2', { subject: 'call-a', type: 'call.completed' }), T0 + 1000, TO_BOTH));
        await store.commit(commit(event('e3', { subject: 'call-b', type: 'call.initiated' }), T0 + 2000, TO_CRM));
        await store.commit(commit(event('e4', { type: 'object.updated' }), T0 + 3000, []));
        await store.commit(commit(event('e1', { source: OTHER, subject: 'call-a', type: 'call.initiated' }), T0 + 4000, TO_CRM));
      });
      const listed = async (search: Parameters<Store['listEvents']>[0]) =>
        (await store.listEvents(search)).map((stored) => `${stored.event.id}/${stored.event.source === OTHER ? 'other' : 'main'}`);

      it('lists every stored event newest first, with when it was accepted', async () => {
        const all = await store.listEvents({ limit: 10 });
        expect(all.map((stored) => [stored.event.id, stored.receivedAt])).toEqual([['e1', T0 + 4000], ['e4', T0 + 3000], ['e3', T0 + 2000], ['e2', T0 + 1000], ['e1', T0]]);
        expect(all.map((stored) => stored.seq)).toEqual([...all.map((stored) => stored.seq)].sort((a, b) => b - a));
      });

      it('combines type, source, call and a time range [since, until)', async () => {
        expect(await listed({ type: 'call.initiated', limit: 10 })).toEqual(['e1/other', 'e3/main', 'e1/main']);
        expect(await listed({ source: OTHER, limit: 10 })).toEqual(['e1/other']);
        expect(await listed({ call: 'call-a', limit: 10 })).toEqual(['e1/other', 'e2/main', 'e1/main']);
        expect(await listed({ call: 'call-a', source: MAIN, type: 'call.completed', limit: 10 })).toEqual(['e2/main']);
        expect(await listed({ since: T0 + 1000, until: T0 + 3000, limit: 10 })).toEqual(['e3/main', 'e2/main']);
        expect(await listed({ call: 'no-such-call', limit: 10 })).toEqual([]);
      });

      it('pages with before: every event once, in order, with or without a call', async () => {
        const all = await store.listEvents({ limit: 100 });
        const seen: number[] = [];
        for (let before: number | undefined; ; ) {
          const page = await store.listEvents({ limit: 2, ...(before === undefined ? {} : { before }) });
          seen.push(...page.map((stored) => stored.seq));
          if (page.length < 2) break;
          before = page.at(-1)!.seq;
        }
        expect(seen).toEqual(all.map((stored) => stored.seq));
        const first = await store.listEvents({ call: 'call-a', limit: 2 });
        expect((await store.listEvents({ call: 'call-a', limit: 10, before: first.at(-1)!.seq })).map((stored) => stored.event.id)).toEqual(['e1']);
      });
    });

    describe('lastErrors', () => {
      it("names each connector's latest error of a delivery still failing; one delivered since is gone", async () => {
        await store.commit(commit(event('x1', { subject: 'x' }), T0, TO_BOTH));
        await settle('crm', T0 + 10, () => 'dead');
        await store.commit(commit(event('x2', { subject: 'y' }), T0 + 15, TO_CRM));
        await settle('crm', T0 + 20, () => 'retry');
        expect(await store.lastErrors(['crm', 'slack', 'unknown'])).toEqual([{ connector: 'crm', error: 'retry x2', at: T0 + 20, deliveryId: expect.any(Number) }]);
        await settle('crm', T0 + 120_000, () => 'delivered');
        const [left] = await store.lastErrors(['crm']);
        expect(left).toMatchObject({ connector: 'crm', error: 'dead x1', at: T0 + 10 });
        expect(await store.lastErrors([])).toEqual([]);
      });
    });
  });
}
