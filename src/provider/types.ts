/**
 * The provider's two management APIs behind one small interface: the
 * webhooks API (seed 002: `/v2/webhooks`, an `events` list, a signing secret,
 * `/logs`, `/rotate-secret`) and the accounts API (seed 000:
 * `/v2/accounts/{ACCOUNT_ID}/webhooks`, one webhook per `hook`). The planner
 * and the commands see only these shapes, never a response as it came.
 */

export type ApiStyle = 'webhooks' | 'accounts';

/** A webhook as the provider lists it, in one shape for both APIs. */
export interface RemoteWebhook {
  readonly api: ApiStyle;
  readonly id: string;
  /** `url` (webhooks API) or `uri` (accounts API). */
  readonly url: string;
  /** The webhooks API's `events`; for the accounts API, its one `hook`. */
  readonly events: readonly string[];
  /** `description` (webhooks API) or `name` (accounts API): where the ownership mark is kept. */
  readonly label: string | undefined;
  /** `active` or `enabled`. */
  readonly enabled: boolean;
}

/** What a webhook should be; `events` holds the one hook on the accounts API. */
export interface WebhookSpec {
  readonly url: string;
  readonly events: readonly string[];
  readonly label: string;
  readonly enabled: boolean;
}

export interface Created {
  readonly id: string;
  /** The webhooks API's `signing_secret`, returned on create only. */
  readonly signingSecret?: string;
}

/** One entry of the webhooks API's delivery log (`/logs`). */
export interface DeliveryLogEntry {
  /** The event's id: the `id` the webhook's payload carries. */
  readonly id: string;
  readonly event: string;
  /** ISO 8601, as logged. */
  readonly timestamp: string;
  /** `delivered`, or anything else (the provider gave up, or has not yet succeeded). */
  readonly status: string;
  readonly responseStatus: number | undefined;
  readonly attempts: number | undefined;
}

/** What `plan`, `apply`, `test` and `status` need of either API. */
export interface ProviderApi {
  readonly style: ApiStyle;
  /** Every webhook of the account, every page read. */
  list(): Promise<RemoteWebhook[]>;
  create(spec: WebhookSpec): Promise<Created>;
  /** Changes `url`, `events` and `enabled` in place (PATCH, or POST on the accounts API). */
  update(id: string, spec: WebhookSpec): Promise<void>;
  remove(id: string): Promise<void>;
  /** Asks the provider to send a test event; its id when the answer names one. */
  test(id: string, event?: string): Promise<{ readonly eventId?: string }>;
}

/** What only the webhooks API offers: its signing secrets and its delivery log. */
export interface SigningApi {
  rotateSecret(id: string): Promise<string>;
  /** The delivery log at or after `since` (ms), every page read; filtered here too when the provider ignores `since`. */
  logs(id: string, since: number): Promise<DeliveryLogEntry[]>;
}
