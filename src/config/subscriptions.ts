import { isIP } from 'node:net';
import { z } from 'zod';
import { boolean, duration, integer, nonEmpty, pem, writtenForms } from './values.js';

/**
 * The provider's side as configuration (docs/provider-setup.md): `provider`
 * (the management API and its token) and `subscriptions` (the webhooks the
 * bridge keeps registered there). Kept apart from schema.ts, which adds both
 * sections and calls `subscriptionChecks` among its cross-field checks.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** 127.0.0.0/8, ::1 and `localhost`: the only hosts a plain `http` URL may name (tests, local runs). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** An absolute https URL, or http on a loopback address; `what` names it in the message. */
function webUrl(what: string) {
  return nonEmpty().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a URL: write the ${what}, e.g. https://api.audian.com:8443`, params: { code: 'CONFIG_BAD_VALUE' } });
      return;
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: 'must not hold credentials (the token goes in provider.token)', params: { code: 'CONFIG_BAD_VALUE' } });
    } else if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({ code: 'custom', message: `use https: plain http is accepted only on a loopback address (127.0.0.1, ::1, localhost)`, params: { code: 'CONFIG_BAD_VALUE' } });
    } else if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `use an https URL (got ${url.protocol.slice(0, -1)})`, params: { code: 'CONFIG_BAD_VALUE' } });
    }
  });
}

/**
 * The API token: any type other than a non-empty string is refused without
 * repeating the value, so a message never shows even a mistyped token.
 */
function token() {
  return z.unknown().register(writtenForms, { written: { type: 'string', minLength: 1, description: 'the API token, e.g. ${AUDIAN_API_TOKEN}' } }).transform((value, ctx): string => {
    if (typeof value !== 'string' || value.trim() === '' || /[\r\n\0]/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: value === undefined ? 'required: the API token, e.g. ${AUDIAN_API_TOKEN}' : 'must be a non-empty string on one line (e.g. ${AUDIAN_API_TOKEN})',
        params: { code: value === undefined ? 'CONFIG_MISSING_KEY' : 'CONFIG_BAD_VALUE' },
      });
      return z.NEVER;
    }
    return value.trim();
  });
}

export const providerSchema = z.strictObject({
  /** The management API's base URL; the paths of seeds 000 and 002 (`/v2/...`) are appended. */
  url: webUrl('management API base URL').transform((value) => value.replace(/\/+$/, '')),
  token: token(),
  /** The accounts API's `{ACCOUNT_ID}`; needed by `api: accounts` subscriptions only. */
  account_id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only').optional(),
  /** CA certificate(s) for a provider behind a private PKI (PEM text or a file); the system's CAs otherwise. */
  ca: pem().optional(),
  /** Each call's own deadline. */
  timeout: duration().default(10_000),
  /** Tries after the first for a 429 or 5xx answer or a failed connection, with backoff (`Retry-After` honoured). */
  retries: integer(0, 10).default(3),
});

const subscriptionSchema = z
  .strictObject({
  name: z.string().regex(NAME, 'use letters, digits, "-" and "_"'),
  /** The source that receives its webhooks. */
  source: nonEmpty(),
  /** The public URL the provider calls: this bridge's path of `source`, as seen from the internet. */
  url: webUrl('public URL of the source'),
  api: z.enum(['webhooks', 'accounts']).default('webhooks'),
  /** `api: webhooks`: the events to subscribe to (`["*"]`: every event). */
  events: z.array(nonEmpty()).min(1, 'give at least one event, or ["*"] for all').optional(),
  /** `api: accounts`: one provider webhook per hook. */
  hooks: z.array(z.string().regex(/^[a-z0-9_.]+$/, 'a hook name such as channel_create')).min(1, 'give at least one hook').optional(),
  /** `api: webhooks`: where its signing secrets are kept (written 0600; a relative path is taken from the working directory, as store.path). */
  secret_file: nonEmpty().optional(),
  enabled: boolean().default(true),
  /** A source silent for longer is a metric and a warning in /readyz's body. */
  expect_within: duration().optional(),
})
  .transform((subscription) => (subscription.api === 'webhooks' ? { ...subscription, events: subscription.events ?? ['*'] } : subscription));

export const subscriptionsSchema = z.array(subscriptionSchema).default([]);

export type ProviderConfig = z.output<typeof providerSchema>;
export type SubscriptionConfig = z.output<typeof subscriptionSchema>;


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks across sections, run on the document as given (defaults not yet
 * filled in): each subscription names a configured source, its keys suit its
 * API, a secret file belongs to an HMAC source, and the provider section is
 * there when anything needs it.
 */
export function subscriptionChecks(config: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], code: 'CONFIG_DUPLICATE' | 'CONFIG_UNKNOWN_REFERENCE' | 'CONFIG_BAD_VALUE' | 'CONFIG_MISSING_KEY', message: string) =>
    ctx.addIssue({ code: 'custom', path, message, params: { code } });
  const subscriptions = Array.isArray(config.subscriptions) ? config.subscriptions : [];
  if (subscriptions.length === 0) return;
  const provider = isRecord(config.provider) ? config.provider : undefined;
  if (!provider) issue(['provider'], 'CONFIG_MISSING_KEY', 'subscriptions need the provider section: provider: { url, token } (and account_id for api: accounts)');
  const sources = new Map<unknown, Record<string, unknown>>();
  for (const source of Array.isArray(config.sources) ? config.sources : []) if (isRecord(source)) sources.set(source.name, source);
  const seen = new Map<unknown, number>();
  subscriptions.forEach((subscription: unknown, index) => {
    if (!isRecord(subscription)) return;
    const at = (key: string) => ['subscriptions', index, key];
    if (seen.has(subscription.name)) issue(at('name'), 'CONFIG_DUPLICATE', `duplicate subscription name "${String(subscription.name)}" (also subscriptions[${seen.get(subscription.name)}])`);
    else seen.set(subscription.name, index);
    const source = sources.get(subscription.source);
    if (typeof subscription.source === 'string' && !source) {
      issue(at('source'), 'CONFIG_UNKNOWN_REFERENCE', `no source named "${subscription.source}" (configured: ${[...sources.keys()].join(', ') || 'none'})`);
    }
    const api = subscription.api ?? 'webhooks';
    if (api === 'accounts') {
      if (subscription.events !== undefined) issue(at('events'), 'CONFIG_BAD_VALUE', 'the accounts API subscribes one hook per webhook: use hooks, not events');
      if (subscription.secret_file !== undefined) issue(at('secret_file'), 'CONFIG_BAD_VALUE', 'the accounts API returns no signing secret: its secret comes from the provider\'s dashboard into the source\'s verify.hmac.secrets');
      if (subscription.hooks === undefined) issue(at('hooks'), 'CONFIG_MISSING_KEY', 'required for api: accounts, e.g. [channel_create, channel_answer, channel_destroy]');
      if (provider && provider.account_id === undefined) issue(['provider', 'account_id'], 'CONFIG_MISSING_KEY', `required by subscriptions[${index}] (api: accounts), e.g. \${AUDIAN_ACCOUNT_ID}`);
      return;
    }
    if (api !== 'webhooks') return;
    if (subscription.hooks !== undefined) issue(at('hooks'), 'CONFIG_BAD_VALUE', 'hooks belong to api: accounts; the webhooks API takes events (["*"] for all)');
    if (subscription.secret_file === undefined) issue(at('secret_file'), 'CONFIG_MISSING_KEY', 'required for api: webhooks: where apply and rotate keep the signing secret, e.g. ./data/secrets/<name>');
    const verify = source && isRecord(source.verify) ? source.verify : undefined;
    if (verify && verify.hmac === undefined) {
      issue(at('source'), 'CONFIG_BAD_VALUE', `source "${String(subscription.source)}" does not verify HMAC signatures: the webhooks API signs with the secret in secret_file, so give the source verify: { hmac: { secrets: [...] } }`);
    }
  });
}
