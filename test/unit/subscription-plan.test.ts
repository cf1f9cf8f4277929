import { describe, expect, it } from 'vitest';
import type { SubscriptionConfig } from '../../src/config/subscriptions.js';
import { desiredWebhooks, ownerLabel, ownerOf, planChanges, planCounts, planSubscriptions } from '../../src/provider/plan.js';
import { compareLog } from '../../src/provider/reconcile.js';
import { causeOf } from '../../src/provider/round-trip.js';
import type { DeliveryLogEntry, RemoteWebhook } from '../../src/provider/types.js';

const URL = 'https://bridge.example.com/webhooks/audian';

function subscription(name: string, extra: Partial<SubscriptionConfig> = {}): SubscriptionConfig {
  return { name, source: 'main', url: URL, api: 'webhooks', events: ['*'], secret_file: `./s/${name}`, enabled: true, ...extra };
}

function remote(id: string, extra: Partial<RemoteWebhook> = {}): RemoteWebhook {
  return { api: 'webhooks', id, url: URL, events: ['*'], label: undefined, enabled: true, ...extra };
}

const withSecret = { prune: false, hasSecret: () => true };

describe('the planner', () => {
  it('owns only webhooks marked audian-bridge:<name>', () => {
    expect(ownerOf({ label: ownerLabel('calls') })).toBe('calls');
    expect([undefined, 'Call Events', 'audian-bridge', 'xaudian-bridge:calls'].map((label) => ownerOf({ label }))).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('from nothing: one create per subscription, one per hook on the accounts API', () => {
    const desired = desiredWebhooks([subscription('calls'), subscription('legacy', { api: 'accounts', events: undefined, hooks: ['channel_create', 'channel_destroy'], secret_file: undefined })]);
    const plan = planSubscriptions(desired, [], withSecret);
    expect(plan.actions.map((action) => [action.action, action.subscription, action.api, 'spec' in action ? action.spec.events : undefined])).toEqual([
      ['create', 'calls', 'webhooks', ['*']],
      ['create', 'legacy', 'accounts', ['channel_create']],
      ['create', 'legacy', 'accounts', ['channel_destroy']],
    ]);
    expect(planChanges(plan)).toBe(true);
  });

  it('in step when url, events (in any order) and enabled agree; an update names each field that differs', () => {
    const desired = desiredWebhooks([subscription('calls', { events: ['call.failed', 'call.completed'] })]);
    const same = planSubscriptions(desired, [remote('wh_1', { label: ownerLabel('calls'), events: ['call.completed', 'call.failed'] })], withSecret);
    expect(same.actions).toEqual([{ action: 'in_step', subscription: 'calls', api: 'webhooks', id: 'wh_1', events: ['call.completed', 'call.failed'] }]);
    expect(planChanges(same)).toBe(false);
    const changed = planSubscriptions(desired, [remote('wh_1', { label: ownerLabel('calls'), url: 'https://old.example.com/x', enabled: false })], withSecret);
    expect(changed.actions).toMatchObject([{ action: 'update', id: 'wh_1', changes: [{ field: 'url' }, { field: 'events' }, { field: 'enabled', from: false, to: true }] }]);
  });

  it('foreign webhooks are counted and never acted on; one to the same URL is warned about', () => {
    const plan = planSubscriptions(desiredWebhooks([subscription('calls')]), [remote('wh_f1'), remote('wh_f2', { url: 'https://else.example.com', label: 'CRM' })], { prune: true, hasSecret: () => true });
    expect(plan.foreign).toBe(2);
    expect(plan.actions.map((action) => action.action)).toEqual(['create']);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toContain('wh_f1');
  });

  it('owned webhooks no longer configured, and a second one of a subscription, are deleted only with --prune', () => {
    const owned = [remote('wh_1', { label: ownerLabel('calls') }), remote('wh_2', { label: ownerLabel('calls') }), remote('wh_3', { label: ownerLabel('old') })];
    const desired = desiredWebhooks([subscription('calls')]);
    const kept = planSubscriptions(desired, owned, withSecret);
    expect(kept.actions.filter((action) => action.action === 'delete').map((action) => [action.action === 'delete' && action.id, action.action === 'delete' && action.reason, action.action === 'delete' && action.applies])).toEqual([
      ['wh_2', 'duplicate', false],
      ['wh_3', 'not configured', false],
    ]);
    expect(planChanges(kept)).toBe(false);
    expect(planCounts(kept)).toMatchObject({ delete: 0, deleteWithPrune: 2, inStep: 1 });
    const pruned = planSubscriptions(desired, owned, { ...withSecret, prune: true });
    expect(planChanges(pruned)).toBe(true);
    expect(planCounts(pruned)).toMatchObject({ delete: 2, deleteWithPrune: 0 });
  });

  it('an owned webhooks-API webhook with no secret on file gets one', () => {
    const plan = planSubscriptions(desiredWebhooks([subscription('calls')]), [remote('wh_1', { label: ownerLabel('calls') })], { prune: false, hasSecret: () => false });
    expect(plan.actions.map((action) => action.action)).toEqual(['fetch_secret', 'in_step']);
    expect(planChanges(plan)).toBe(true);
  });
});

describe('reconcile comparison', () => {
  const entry = (id: string, status: string, at: string, extra: Partial<DeliveryLogEntry> = {}): DeliveryLogEntry => ({ id, event: 'call.completed', timestamp: at, status, responseStatus: status === 'delivered' ? 200 : undefined, attempts: 1, ...extra });

  it('one outcome per event: delivered when any entry is; lists only what the store lacks, counts what agrees', () => {
    const entries = [
      entry('a', 'delivered', '2026-03-01T10:00:00Z'),
      entry('b', 'failed', '2026-03-01T10:01:00Z'),
      entry('b', 'delivered', '2026-03-01T10:05:00Z'),
      entry('c', 'failed', '2026-03-01T10:02:00Z', { attempts: 4 }),
      entry('d', 'delivered', '2026-03-01T10:03:00Z'),
      entry('e', 'failed', '2026-03-01T10:04:00Z'),
      entry('f', 'pending', '2026-03-01T09:00:00Z'),
    ];
    const result = compareLog(entries, new Set(['a', 'b', 'e']));
    expect(result.counts).toEqual({ logged: 6, deliveredAndStored: 2, notDeliveredButStored: 1, notDelivered: 2, deliveredNotStored: 1 });
    expect(result.notDelivered.map((item) => [item.id, item.status, item.attempts])).toEqual([['f', 'pending', 1], ['c', 'failed', 4]]);
    expect(result.deliveredNotStored.map((item) => item.id)).toEqual(['d']);
  });

  it('nothing missing: empty lists', () => {
    expect(compareLog([entry('a', 'delivered', '2026-03-01T10:00:00Z')], new Set(['a']))).toMatchObject({ notDelivered: [], deliveredNotStored: [] });
  });
});

describe('why a test event did not arrive', () => {
  const logged = (status: string, responseStatus?: number): DeliveryLogEntry => ({ id: 'e', event: 'call.completed', timestamp: '2026-03-01T10:00:00Z', status, responseStatus, attempts: 1 });
  it('from the provider log and the bridge\'s refusals', () => {
    expect(causeOf(logged('failed'), undefined)).toBe('unreachable');
    expect(causeOf(logged('failed', 401), undefined)).toBe('signature_refused');
    expect(causeOf(logged('failed', 404), undefined)).toBe('no_such_path');
    expect(causeOf(logged('failed', 422), undefined)).toBe('refused');
    expect(causeOf(logged('failed', 503), undefined)).toBe('bridge_failed');
    expect(causeOf(logged('delivered', 200), undefined)).toBe('source_mismatch');
    expect(causeOf(undefined, undefined)).toBe('not_seen');
    expect(causeOf(undefined, { SIGNATURE_MISMATCH: 2 })).toBe('signature_refused');
  });
});
