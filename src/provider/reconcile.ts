import type { SubscriptionConfig } from '../config/subscriptions.js';
import { BridgeError } from '../errors.js';
import type { EventLookup } from './activity.js';
import { ownWebhook } from './round-trip.js';
import type { DeliveryLogEntry, ProviderApi, SigningApi } from './types.js';

/**
 * `subscriptions reconcile` and `GET /admin/subscriptions/{name}/reconcile`:
 * the provider's delivery log (seed 002's `/logs`, every page) against the
 * store. The gap is two lists: events the provider did not deliver (any
 * status other than `delivered`) that the store does not hold, and events it
 * says it delivered that the store does not hold. What agrees is counted, not
 * listed.
 */

export interface NotDelivered {
  readonly id: string;
  readonly event: string;
  readonly timestamp: string;
  readonly status: string;
  readonly responseStatus: number | null;
  readonly attempts: number | null;
}

export interface ReconcileComparison {
  readonly counts: {
    /** Distinct events in the log. */
    readonly logged: number;
    /** Delivered by the provider and stored by the bridge. */
    readonly deliveredAndStored: number;
    /** Not delivered by the provider's account, yet stored (e.g. the answer was slower than the provider waited). */
    readonly notDeliveredButStored: number;
    readonly notDelivered: number;
    readonly deliveredNotStored: number;
  };
  readonly notDelivered: readonly NotDelivered[];
  readonly deliveredNotStored: readonly { readonly id: string; readonly event: string; readonly timestamp: string }[];
}

/**
 * Pure: one outcome per event id (a log may hold an entry per attempt:
 * delivered when any entry is; otherwise the latest entry says how it ended).
 */
export function compareLog(entries: readonly DeliveryLogEntry[], stored: ReadonlySet<string>): ReconcileComparison {
  const byId = new Map<string, { latest: DeliveryLogEntry; delivered: boolean }>();
  for (const entry of entries) {
    const known = byId.get(entry.id);
    const latest = !known || Date.parse(entry.timestamp) >= Date.parse(known.latest.timestamp) ? entry : known.latest;
    byId.set(entry.id, { latest, delivered: (known?.delivered ?? false) || entry.status === 'delivered' });
  }
  const notDelivered: NotDelivered[] = [];
  const deliveredNotStored: { id: string; event: string; timestamp: string }[] = [];
  let deliveredAndStored = 0;
  let notDeliveredButStored = 0;
  for (const [id, { latest, delivered }] of byId) {
    const have = stored.has(id);
    if (delivered && have) deliveredAndStored++;
    else if (delivered) deliveredNotStored.push({ id, event: latest.event, timestamp: latest.timestamp });
    else if (have) notDeliveredButStored++;
    else notDelivered.push({ id, event: latest.event, timestamp: latest.timestamp, status: latest.status, responseStatus: latest.responseStatus ?? null, attempts: latest.attempts ?? null });
  }
  const byTime = (a: { timestamp: string }, b: { timestamp: string }) => Date.parse(a.timestamp) - Date.parse(b.timestamp);
  notDelivered.sort(byTime);
  deliveredNotStored.sort(byTime);
  return {
    counts: { logged: byId.size, deliveredAndStored, notDeliveredButStored, notDelivered: notDelivered.length, deliveredNotStored: deliveredNotStored.length },
    notDelivered,
    deliveredNotStored,
  };
}

export interface ReconcileReport extends ReconcileComparison {
  readonly subscription: string;
  readonly source: string;
  readonly webhookId: string;
  readonly since: string;
  readonly until: string;
  /** Whether anything is missing from the store. */
  readonly gap: boolean;
  /** How to recover, when there is a gap. */
  readonly recovery: readonly string[];
}

export interface ReconcileDeps {
  readonly subscription: SubscriptionConfig;
  readonly api: ProviderApi & SigningApi;
  readonly lookup: EventLookup;
  /** Start of the window (ms). */
  readonly since: number;
  readonly now?: () => number;
}

export async function reconcileSubscription(deps: ReconcileDeps): Promise<ReconcileReport> {
  const { subscription } = deps;
  if (subscription.api !== 'webhooks') {
    throw new BridgeError('SUBSCRIPTION_UNSUPPORTED', `subscription "${subscription.name}" uses the accounts API, which has no delivery log: reconcile needs api: webhooks`);
  }
  const until = (deps.now ?? Date.now)();
  const webhook = ownWebhook(await deps.api.list(), subscription);
  const entries = await deps.api.logs(webhook.id, deps.since);
  const stored = await deps.lookup.storedIds(subscription.source, [...new Set(entries.map((entry) => entry.id))]);
  const comparison = compareLog(entries, stored);
  const gap = comparison.notDelivered.length > 0 || comparison.deliveredNotStored.length > 0;
  return {
    subscription: subscription.name,
    source: subscription.source,
    webhookId: webhook.id,
    since: new Date(deps.since).toISOString(),
    until: new Date(until).toISOString(),
    ...comparison,
    gap,
    recovery: gap ? recoveryFor(comparison, subscription) : [],
  };
}

function recoveryFor(comparison: ReconcileComparison, subscription: SubscriptionConfig): string[] {
  const lines = ['The provider documents no way to ask for a redelivery.'];
  const retrying = comparison.notDelivered.filter((item) => item.status !== 'failed').length;
  if (retrying > 0) lines.push(`${retrying} of them are not marked failed yet: the provider may still retry them (seed 000's retry policy); run reconcile again later.`);
  lines.push(
    `Where an event's payload is at hand (the provider's dashboard, a log), \`audian-bridge send --file PAYLOAD.json --source ${subscription.source}\` signs it with a secret the source accepts (from $AUDIAN_WEBHOOK_SECRET, e.g. the first secret of ${subscription.secret_file ?? 'secret_file'}) and sends it again; an event stored already is answered as a duplicate, never stored twice.`,
  );
  if (comparison.deliveredNotStored.length > 0) {
    lines.push('Events the provider says it delivered but the store does not hold: were they older than store.dedupe_ttl (pruned), or did subscriptions[].url point at another bridge at the time?');
  }
  return lines;
}
