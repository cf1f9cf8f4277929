import type { SubscriptionConfig } from '../config/subscriptions.js';
import type { ApiStyle, RemoteWebhook, WebhookSpec } from './types.js';

/**
 * What `apply` would do, as a pure function of the configured subscriptions
 * and the webhooks the provider lists. The bridge owns only webhooks marked
 * `audian-bridge:<subscription>` (the webhooks API's `description`, the
 * accounts API's `name`); every other webhook of the account is left alone.
 * A changed URL, events list or `enabled` is an update in place; an owned
 * webhook no longer configured, or a second one for the same subscription
 * (and hook), is deleted only with `--prune`.
 */

const OWNER_PREFIX = 'audian-bridge:';

export function ownerLabel(subscription: string): string {
  return `${OWNER_PREFIX}${subscription}`;
}

/** The subscription that owns a webhook, from its mark; undefined for webhooks the bridge did not create. */
export function ownerOf(webhook: Pick<RemoteWebhook, 'label'>): string | undefined {
  return webhook.label?.startsWith(OWNER_PREFIX) ? webhook.label.slice(OWNER_PREFIX.length) : undefined;
}

/** One webhook a subscription wants: the one of the webhooks API, or one per hook on the accounts API. */
export interface DesiredWebhook {
  readonly subscription: string;
  readonly api: ApiStyle;
  readonly spec: WebhookSpec;
}

export function desiredWebhooks(subscriptions: readonly SubscriptionConfig[]): DesiredWebhook[] {
  return subscriptions.flatMap((subscription): DesiredWebhook[] => {
    const spec = (events: readonly string[]): WebhookSpec => ({ url: subscription.url, events, label: ownerLabel(subscription.name), enabled: subscription.enabled });
    if (subscription.api === 'accounts') return (subscription.hooks ?? []).map((hook) => ({ subscription: subscription.name, api: 'accounts' as const, spec: spec([hook]) }));
    return [{ subscription: subscription.name, api: 'webhooks' as const, spec: spec(subscription.events ?? ['*']) }];
  });
}

export interface FieldChange {
  readonly field: 'url' | 'events' | 'enabled';
  readonly from: unknown;
  readonly to: unknown;
}

export type PlanAction =
  | { readonly action: 'create'; readonly subscription: string; readonly api: ApiStyle; readonly spec: WebhookSpec }
  | { readonly action: 'update'; readonly subscription: string; readonly api: ApiStyle; readonly id: string; readonly spec: WebhookSpec; readonly changes: readonly FieldChange[] }
  /** An owned webhooks-API webhook with no secret on file (its create answer was lost): `rotate-secret` gets one. */
  | { readonly action: 'fetch_secret'; readonly subscription: string; readonly api: 'webhooks'; readonly id: string }
  | { readonly action: 'delete'; readonly subscription: string; readonly api: ApiStyle; readonly id: string; readonly reason: 'not configured' | 'duplicate'; readonly events: readonly string[]; readonly applies: boolean }
  | { readonly action: 'in_step'; readonly subscription: string; readonly api: ApiStyle; readonly id: string; readonly events: readonly string[] };

export interface Plan {
  readonly actions: readonly PlanAction[];
  /** Webhooks of the account the bridge did not create: never changed. */
  readonly foreign: number;
  /** Things to know that change nothing, e.g. a foreign webhook to a subscription's URL. */
  readonly warnings: readonly string[];
}

export interface PlanOptions {
  readonly prune: boolean;
  /** Whether a webhooks-API subscription has an unexpired secret on file. */
  readonly hasSecret: (subscription: string) => boolean;
}

const sorted = (values: readonly string[]) => [...new Set(values)].sort();
const sameEvents = (a: readonly string[], b: readonly string[]) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

/** The fields `update` would change; the accounts API's hook is the webhook's identity, never changed. */
export function changesOf(remote: RemoteWebhook, spec: WebhookSpec): FieldChange[] {
  const changes: FieldChange[] = [];
  if (remote.url !== spec.url) changes.push({ field: 'url', from: remote.url, to: spec.url });
  if (remote.api === 'webhooks' && !sameEvents(remote.events, spec.events)) changes.push({ field: 'events', from: remote.events, to: spec.events });
  if (remote.enabled !== spec.enabled) changes.push({ field: 'enabled', from: remote.enabled, to: spec.enabled });
  return changes;
}

/** What identifies a webhook within its subscription: the hook on the accounts API, nothing on the webhooks API. */
const keyOf = (api: ApiStyle, subscription: string, events: readonly string[]) => `${api}\u0000${subscription}\u0000${api === 'accounts' ? (events[0] ?? '') : ''}`;

export function planSubscriptions(desired: readonly DesiredWebhook[], remote: readonly RemoteWebhook[], options: PlanOptions): Plan {
  const owned = new Map<string, RemoteWebhook[]>();
  let foreign = 0;
  const warnings: string[] = [];
  for (const webhook of remote) {
    const owner = ownerOf(webhook);
    if (owner === undefined) {
      foreign++;
      const twin = desired.find((want) => want.api === webhook.api && want.spec.url === webhook.url);
      if (twin) warnings.push(`${webhook.api} API webhook ${webhook.id} was not created by this bridge but also calls ${webhook.url}: it signs with a secret of its own, so its deliveries are refused unless that secret is in the source's secrets; delete it at the provider if it is left over`);
      continue;
    }
    const key = keyOf(webhook.api, owner, webhook.events);
    owned.set(key, [...(owned.get(key) ?? []), webhook]);
  }
  const actions: PlanAction[] = [];
  for (const want of desired) {
    const key = keyOf(want.api, want.subscription, want.spec.events);
    const [match, ...extra] = owned.get(key) ?? [];
    owned.delete(key);
    const base = { subscription: want.subscription, api: want.api };
    if (!match) {
      actions.push({ action: 'create', ...base, spec: want.spec });
    } else {
      const changes = changesOf(match, want.spec);
      if (changes.length > 0) actions.push({ action: 'update', ...base, id: match.id, spec: want.spec, changes });
      if (want.api === 'webhooks' && !options.hasSecret(want.subscription)) actions.push({ action: 'fetch_secret', subscription: want.subscription, api: 'webhooks', id: match.id });
      if (changes.length === 0) actions.push({ action: 'in_step', ...base, id: match.id, events: match.events });
    }
    for (const duplicate of extra) actions.push({ action: 'delete', ...base, id: duplicate.id, reason: 'duplicate', events: duplicate.events, applies: options.prune });
  }
  for (const left of owned.values()) {
    for (const webhook of left) {
      actions.push({ action: 'delete', subscription: ownerOf(webhook) as string, api: webhook.api, id: webhook.id, reason: 'not configured', events: webhook.events, applies: options.prune });
    }
  }
  return { actions, foreign, warnings };
}

/** Whether applying the plan would change anything at the provider (or in a secrets file). */
export function planChanges(plan: Plan): boolean {
  return plan.actions.some((action) => action.action === 'create' || action.action === 'update' || action.action === 'fetch_secret' || (action.action === 'delete' && action.applies));
}

export function planCounts(plan: Plan) {
  const count = (test: (action: PlanAction) => boolean) => plan.actions.filter(test).length;
  return {
    create: count((action) => action.action === 'create'),
    update: count((action) => action.action === 'update' || action.action === 'fetch_secret'),
    delete: count((action) => action.action === 'delete' && action.applies),
    deleteWithPrune: count((action) => action.action === 'delete' && !action.applies),
    inStep: count((action) => action.action === 'in_step'),
    foreign: plan.foreign,
  };
}
