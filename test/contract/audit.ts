import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import type { AuditActor, CommitRequest, RouteTarget, Store } from '../../src/store/index.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const SOURCE = 'audian/main';
const CLAIM = { limit: 100, leaseMs: 60_000, maxPerCall: 100 };
const CONSOLE: AuditActor = { via: 'console', who: 'session 1a2b3c4d', address: '127.0.0.1' };
const CLI: AuditActor = { via: 'cli', who: 'ops@host' };

/** A fresh, empty store; `failAuditWrites` makes every later write of an audit row fail, as a full disk or a lost grant would. */
export type AuditStoreFactory = () => Promise<{ readonly store: Store; dispose(): Promise<void>; failAuditWrites(): Promise<void> }>;

function event(id: string, subject: string, type = 'call.completed'): CanonicalEvent {
  return {
    specversion: '1.0',
    id,
    source: SOURCE,
    type,
    subject,
    time: new Date(T0).toISOString(),
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: { call_id: subject },
  };
}

function commit(ev: CanonicalEvent, at: number, targets: readonly RouteTarget[]): CommitRequest {
  return { event: ev, receivedAt: at, advance: (stored) => ({ event: ev, call: stored ?? { source: ev.source, callId: ev.subject as string, answered: false }, targets }) };
}

const TO_CRM: readonly RouteTarget[] = [{ route: 'crm-calls', connector: 'crm' }];
const TO_SLACK: readonly RouteTarget[] = [{ route: 'alerts', connector: 'slack' }];

/**
 * The operators' audit and bulk replay (src/store/audit.ts), through the
 * store interface alone: run against each implementation on its real backend.
 */
export function describeAuditContract(name: string, factory: AuditStoreFactory): void {
  describe(`audit contract: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let failAuditWrites: () => Promise<void>;
    beforeEach(async () => {
      ({ store, dispose, failAuditWrites } = await factory());
    });
    afterEach(async () => {
      await dispose();
    });

    /** Commits one event per id to `targets` at `at`, then settles every due delivery of `connector` as `outcome`. */
    async function deliveries(ids: readonly string[], at: number, outcome: 'dead' | 'delivered' | 'pending', targets = TO_CRM, type?: string): Promise<number[]> {
      for (const id of ids) await store.commit(commit(event(id, `call-${id}`, type), at, targets));
      const connector = targets[0]!.connector;
      const found = (await store.searchDeliveries({ connector, limit: 1000 })).filter((record) => ids.includes(record.eventId)).map((record) => record.id);
      if (outcome === 'pending') return found.sort((a, b) => a - b);
      const claimed = (await store.claim(connector, at, CLAIM)).filter((delivery) => found.includes(delivery.id));
      await store.settle(
        claimed.map(({ id, lease }) => (outcome === 'dead' ? { id, lease, outcome, error: 'HTTP 500' } : { id, lease, outcome })),
        at,
      );
      return found.sort((a, b) => a - b);
    }

    const statusOf = async (id: number) => (await store.delivery(id))?.status;

    describe('the audit log', () => {
      it('keeps each entry whole, newest first, paged with before', async () => {
        await store.recordAudit({ at: T0, action: 'sign_in', actor: CONSOLE, count: 1 });
        await store.recordAudit({ at: T0 + 1, action: 'sign_in_failed', actor: { via: 'console', who: 'nobody', address: '10.0.0.9' }, count: 0 });
        await store.recordAudit({ at: T0 + 2, action: 'reload', actor: { via: 'api', who: 'bearer token', address: '::1' }, target: 'config', count: 1, detail: { trigger: 'admin' } });
        const all = await store.auditLog({ limit: 10 });
        expect(all.map((entry) => entry.action)).toEqual(['reload', 'sign_in_failed', 'sign_in']);
        expect(all[0]).toMatchObject({ at: T0 + 2, actor: { via: 'api', who: 'bearer token', address: '::1' }, target: 'config', count: 1, detail: { trigger: 'admin' } });
        expect(all[2]).toEqual({ id: all[2]!.id, at: T0, action: 'sign_in', actor: CONSOLE, count: 1 });
        const first = await store.auditLog({ limit: 2 });
        const rest = await store.auditLog({ limit: 2, before: first.at(-1)!.id });
        expect([...first, ...rest].map((entry) => entry.id)).toEqual(all.map((entry) => entry.id));
      });

      it('records a replay, a pause and a resume with how many they changed, in their own write', async () => {
        const [dead] = await deliveries(['a1'], T0, 'dead');
        await store.replay({ ids: [dead!, 999_999] }, T0 + 10, CONSOLE);
        expect(await store.pause('crm', T0 + 20, CLI)).toBe(true);
        expect(await store.pause('crm', T0 + 30, CLI)).toBe(false);
        expect(await store.resume('crm', T0 + 40, CLI)).toBe(true);
        await store.replay({ ids: [dead!] }, T0 + 50);
        const log = await store.auditLog({ limit: 10 });
        expect(log.map((entry) => [entry.action, entry.count, entry.target, entry.actor.via])).toEqual([
          ['resume', 1, 'crm', 'cli'],
          ['pause', 0, 'crm', 'cli'],
          ['pause', 1, 'crm', 'cli'],
          ['replay', 1, `${dead},999999`, 'console'],
        ]);
        expect(log.at(-1)).toMatchObject({ at: T0 + 10, actor: CONSOLE, detail: { queued: [dead], skipped: 1 } });
      });

      it('a replay or a pause whose audit row cannot be written does nothing', async () => {
        const [dead] = await deliveries(['f1'], T0, 'dead');
        await failAuditWrites();
        await expect(store.replay({ ids: [dead!] }, T0 + 10, CONSOLE)).rejects.toThrow();
        await expect(store.pause('crm', T0 + 10, CONSOLE)).rejects.toThrow();
        await expect(store.recordAudit({ at: T0 + 10, action: 'sign_in', actor: CONSOLE, count: 1 })).rejects.toThrow();
        expect(await statusOf(dead!)).toBe('dead');
        expect(await store.paused()).toEqual([]);
        expect(await store.auditLog({ limit: 10 })).toEqual([]);
      });

      it('prunes entries older than the retention, the newer ones stay', async () => {
        for (let n = 0; n < 5; n++) await store.recordAudit({ at: T0 + n * 1000, action: 'sign_in', actor: CONSOLE, count: 1 });
        expect(await store.pruneAudit(T0 + 10_000, 7_500, 2)).toBe(2);
        expect(await store.pruneAudit(T0 + 10_000, 7_500, 2)).toBe(1);
        expect(await store.pruneAudit(T0 + 10_000, 7_500, 2)).toBe(0);
        expect((await store.auditLog({ limit: 10 })).map((entry) => entry.at)).toEqual([T0 + 4000, T0 + 3000]);
      });
    });

    describe('bulk replay', () => {
      it('counts what a search matches now, per status, with the newest id', async () => {
        const dead = await deliveries(['c1', 'c2'], T0, 'dead');
        const delivered = await deliveries(['c3'], T0 + 1000, 'delivered');
        await deliveries(['c4'], T0 + 2000, 'pending', TO_SLACK);
        expect(await store.countDeliveries({})).toEqual({ byStatus: { pending: 1, delivered: 1, skipped: 0, dead: 2 }, newest: Math.max(...dead, ...delivered) + 1 });
        expect(await store.countDeliveries({ statuses: ['dead', 'delivered'], connector: 'crm' })).toEqual({
          byStatus: { pending: 0, delivered: 1, skipped: 0, dead: 2 },
          newest: delivered[0],
        });
        expect(await store.countDeliveries({ statuses: ['dead'], call: 'call-c2' })).toEqual({ byStatus: { pending: 0, delivered: 0, skipped: 0, dead: 1 }, newest: dead[1] });
        expect(await store.countDeliveries({ event: 'c1', since: T0, until: T0 + 1 })).toEqual({ byStatus: { pending: 0, delivered: 0, skipped: 0, dead: 1 }, newest: dead[0] });
        expect(await store.countDeliveries({ type: 'no.such.type' })).toEqual({ byStatus: { pending: 0, delivered: 0, skipped: 0, dead: 0 }, newest: undefined });
      });

      it('replays exactly what was counted: not what arrived after, and what changed meanwhile is skipped with the reason', async () => {
        const [d1, d2, d3, d4] = await deliveries(['b1', 'b2', 'b3', 'b4'], T0, 'dead');
        const counted = await store.countDeliveries({ statuses: ['dead'], connector: 'crm' });
        expect(counted.byStatus.dead).toBe(4);
        const asOf = T0 + 100;
        // Meanwhile: one is replayed on its own (pending now), one of them is replayed and delivered, two new dead letters arrive.
        await store.replay({ ids: [d1!] }, T0 + 200);
        await store.replay({ ids: [d2!] }, T0 + 200);
        const again = await store.claim('crm', T0 + 300, CLAIM);
        await store.settle(again.filter((delivery) => delivery.id === d2).map(({ id, lease }) => ({ id, lease, outcome: 'delivered' as const })), T0 + 300);
        await store.settle(again.filter((delivery) => delivery.id === d1).map(({ id, lease }) => ({ id, lease, outcome: 'retry' as const, at: T0 + 60_000, error: 'HTTP 503' })), T0 + 300);
        const late = await deliveries(['b5', 'b6'], T0 + 400, 'dead');
        const result = await store.replay({ search: { statuses: ['dead'], connector: 'crm' }, upTo: counted.newest!, asOf }, T0 + 500, CONSOLE);
        expect(result.queued).toEqual([d3, d4]);
        expect(result.skipped).toEqual([
          { id: d1, reason: 'pending', status: 'pending' },
          { id: d2, reason: 'changed', status: 'delivered' },
        ]);
        for (const id of late) expect(await statusOf(id)).toBe('dead');
        expect(await statusOf(d3!)).toBe('pending');
        const [row] = await store.auditLog({ limit: 1 });
        expect(row).toMatchObject({ action: 'bulk_replay', count: 2, actor: CONSOLE, detail: { queued: [d3, d4], skipped: 2 } });
        expect(JSON.parse(row!.target as string)).toMatchObject({ statuses: ['dead'], connector: 'crm', upTo: counted.newest });
      });

      it('sends delivered ones again as a resend and queues dead ones, by any filter', async () => {
        const dead = await deliveries(['r1'], T0, 'dead', TO_CRM, 'call.missed');
        const delivered = await deliveries(['r2'], T0, 'delivered', TO_CRM, 'call.missed');
        await deliveries(['r3'], T0, 'dead', TO_CRM, 'call.initiated');
        const counted = await store.countDeliveries({ statuses: ['dead', 'delivered'], type: 'call.missed' });
        expect(counted.byStatus).toMatchObject({ dead: 1, delivered: 1 });
        const result = await store.replay({ search: { statuses: ['dead', 'delivered'], type: 'call.missed' }, upTo: counted.newest! }, T0 + 100);
        expect(result).toEqual({ queued: [...dead, ...delivered].sort((a, b) => a - b), skipped: [] });
        const resent = await store.delivery(delivered[0]!);
        expect(resent).toMatchObject({ status: 'pending', replay: 1 });
        expect(await store.delivery(dead[0]!)).toMatchObject({ status: 'pending', replay: 0 });
        expect(await store.countDeliveries({ statuses: ['dead'] })).toMatchObject({ byStatus: { dead: 1 } });
      });

      it('replays through a call or an event as well as down the ids', async () => {
        const [byCall] = await deliveries(['s1'], T0, 'dead');
        const [byEvent] = await deliveries(['s2'], T0, 'dead');
        const upTo = (await store.countDeliveries({ statuses: ['dead'] })).newest!;
        expect(await store.replay({ search: { statuses: ['dead'], call: 'call-s1' }, upTo }, T0 + 10)).toEqual({ queued: [byCall], skipped: [] });
        expect(await store.replay({ search: { statuses: ['dead'], event: 's2', call: 'call-s2' }, upTo }, T0 + 10)).toEqual({ queued: [byEvent], skipped: [] });
        expect(await store.replay({ search: { statuses: ['dead'], event: 's2' }, upTo: byEvent! - 1 }, T0 + 10)).toEqual({ queued: [], skipped: [] });
      });
    });
  });
}
