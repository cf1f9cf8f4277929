import type { SubscriptionConfig } from '../config/subscriptions.js';
import { BridgeError } from '../errors.js';
import type { EventLookup } from './activity.js';
import { ownerOf } from './plan.js';
import type { DeliveryLogEntry, ProviderApi, RemoteWebhook, SigningApi } from './types.js';

/**
 * `subscriptions test`: the provider sends a test event to the subscription's
 * webhook, and the bridge's store is watched until it holds it. When the
 * provider names the event it sends, that event is waited for; when it does
 * not, the next event stored from the source. Meanwhile the webhooks API's
 * delivery log tells early when the provider gave up, and why.
 */

export type RoundTripCause =
  /** The provider could not connect to the URL. */
  | 'unreachable'
  /** The bridge answered 401: the secret the provider signs with is not one the source accepts. */
  | 'signature_refused'
  /** The bridge answered 404 or 405: the URL's path is not a source's path. */
  | 'no_such_path'
  /** The bridge refused the payload (4xx): e.g. a dialect the source does not accept. */
  | 'refused'
  /** The bridge answered 5xx. */
  | 'bridge_failed'
  /** The provider says it delivered it, but not as an event of this source. */
  | 'source_mismatch'
  /** Nothing in the provider's log, or no log to read (the accounts API). */
  | 'not_seen';

export type RoundTripResult =
  | { readonly arrived: true; readonly webhookId: string; readonly eventId?: string; readonly roundTripMs: number }
  | {
      readonly arrived: false;
      readonly webhookId: string;
      readonly eventId?: string;
      readonly cause: RoundTripCause;
      /** What the provider logged for it, when it logs. */
      readonly providerStatus?: number | null;
      readonly rejections?: Record<string, number>;
    };

export interface RoundTripDeps {
  readonly subscription: SubscriptionConfig;
  readonly api: ProviderApi;
  /** The webhooks API's log, to say early why an event does not arrive. */
  readonly signing?: SigningApi;
  readonly lookup: EventLookup;
  /** `--event`: the event type to send (webhooks API), or which hook's webhook to test (accounts API). */
  readonly event?: string;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** After the provider logs it delivered, how long the store may take before it is a mismatch. */
const DELIVERED_GRACE_MS = 3_000;
const LOG_EVERY_MS = 1_000;

/** The subscription's own webhook (for the accounts API, the one of `hook`, else its first). */
export function ownWebhook(remote: readonly RemoteWebhook[], subscription: SubscriptionConfig, hook?: string): RemoteWebhook {
  const owned = remote.filter((webhook) => webhook.api === subscription.api && ownerOf(webhook) === subscription.name);
  const chosen = hook === undefined || subscription.api === 'webhooks' ? owned[0] : owned.find((webhook) => webhook.events[0] === hook);
  if (!chosen) {
    throw new BridgeError('SUBSCRIPTION_NOT_APPLIED', `the provider has no webhook of subscription "${subscription.name}"${hook && subscription.api === 'accounts' ? ` for hook ${hook}` : ''}: run \`audian-bridge subscriptions apply\` first`);
  }
  return chosen;
}

export async function runRoundTrip(deps: RoundTripDeps): Promise<RoundTripResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const { subscription, lookup } = deps;
  const webhook = ownWebhook(await deps.api.list(), subscription, deps.event);
  const before = await lookup.lastReceivedAt(subscription.source);
  const rejectedBefore = await lookup.rejections?.(subscription.source);
  const started = now();
  const { eventId } = await deps.api.test(webhook.id, subscription.api === 'webhooks' ? deps.event : undefined);
  const base = { webhookId: webhook.id, ...(eventId ? { eventId } : {}) };
  const logs = eventId && deps.signing ? deps.signing : undefined;
  let logged: DeliveryLogEntry | undefined;
  let lastLogRead = 0;
  let deliveredSeenAt: number | undefined;

  const arrived = async () =>
    eventId ? lookup.stored(subscription.source, eventId) : ((await lookup.lastReceivedAt(subscription.source)) ?? Number.NEGATIVE_INFINITY) > (before ?? Number.NEGATIVE_INFINITY);

  for (;;) {
    if (await arrived()) return { arrived: true, ...base, roundTripMs: now() - started };
    if (logs && now() - lastLogRead >= LOG_EVERY_MS) {
      lastLogRead = now();
      // A minute of slack: the provider's clock and this one need not agree.
      logged = (await logs.logs(webhook.id, started - 60_000)).find((entry) => entry.id === eventId) ?? logged;
      if (logged?.status === 'delivered') deliveredSeenAt ??= now();
      // Seed 000's retry policy: "After all retries fail, the webhook is logged as failed"; any other status may still change.
      const gaveUp = logged?.status === 'failed';
      const mismatch = deliveredSeenAt !== undefined && now() - deliveredSeenAt > DELIVERED_GRACE_MS;
      if ((gaveUp || mismatch) && !(await arrived())) return failure(base, logged, deps, rejectedBefore);
    }
    if (now() - started >= deps.timeoutMs) return failure(base, logged, deps, rejectedBefore);
    await sleep(deps.pollMs ?? 200);
  }
}

async function failure(base: { webhookId: string; eventId?: string }, logged: DeliveryLogEntry | undefined, deps: RoundTripDeps, rejectedBefore: Record<string, number> | undefined): Promise<RoundTripResult> {
  const rejectedAfter = await deps.lookup.rejections?.(deps.subscription.source);
  const rejections = rejectedAfter ? difference(rejectedAfter, rejectedBefore ?? {}) : undefined;
  return {
    arrived: false,
    ...base,
    cause: causeOf(logged, rejections),
    ...(logged ? { providerStatus: logged.responseStatus ?? null } : {}),
    ...(rejections ? { rejections } : {}),
  };
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([code, n]) => [code, n - (before[code] ?? 0)]).filter(([, n]) => (n as number) > 0));
}

/** The likely cause, from what the provider logged and, where known, what the bridge refused. */
export function causeOf(logged: DeliveryLogEntry | undefined, rejections: Record<string, number> | undefined): RoundTripCause {
  const refusedSignature = Object.keys(rejections ?? {}).some((code) => /^(SIGNATURE|TIMESTAMP)_/.test(code));
  if (refusedSignature) return 'signature_refused';
  if (!logged) return 'not_seen';
  if (logged.status === 'delivered') return 'source_mismatch';
  const status = logged.responseStatus;
  if (status === undefined || status === 0) return 'unreachable';
  if (status === 401 || status === 403) return 'signature_refused';
  if (status === 404 || status === 405) return 'no_such_path';
  if (status >= 500) return 'bridge_failed';
  return 'refused';
}

/** What to look at, per cause. */
export const CAUSE_HINTS: Readonly<Record<RoundTripCause, string>> = {
  unreachable: 'the provider could not reach subscriptions[].url: is it the public address of this bridge, and does it reach the bridge (DNS, firewall, TLS certificate, proxy)?',
  signature_refused: "the bridge refused the signature: the secret the provider signs with is not in the source's verify.hmac.secrets nor in secret_file (run `subscriptions rotate NAME`, or check that secret_file is the one the running bridge reads); see audian_bridge_webhooks_total{outcome=\"SIGNATURE_MISMATCH\"}",
  no_such_path: "the URL reaches the bridge but no source: its path must be the source's path (sources[].path)",
  refused: "the bridge refused the payload: does the source accept this dialect (sources[].dialects)? see audian_bridge_webhooks_total by outcome",
  bridge_failed: 'the bridge answered 5xx: is its store available (GET /readyz)?',
  source_mismatch: "the provider says it delivered the event, but it is not stored from this subscription's source: does subscriptions[].url point at another source's path, or at another bridge?",
  not_seen: "nothing arrived and the provider's log says nothing (the accounts API has none): check subscriptions[].url, the source's secrets, and audian_bridge_webhooks_total by outcome on the bridge",
};
