import type { ProviderConfig } from '../config/subscriptions.js';
import { createAccountsApi } from './accounts-api.js';
import { createProviderHttp, type ProviderHttpOptions } from './http.js';
import type { ApiStyle, ProviderApi, SigningApi } from './types.js';
import { createWebhooksApi } from './webhooks-api.js';

export interface ProviderClients {
  readonly webhooks: ProviderApi & SigningApi;
  /** Only with `provider.account_id`. */
  readonly accounts?: ProviderApi;
  /** The API of that style, if configured. */
  api(style: ApiStyle): ProviderApi | undefined;
}

/** Both management APIs over one way of calling the provider (http.ts), from the `provider` section. */
export function createProviderClients(provider: ProviderConfig, deps: Pick<ProviderHttpOptions, 'fetch' | 'sleep' | 'now'> = {}): ProviderClients {
  const http = createProviderHttp({
    baseUrl: provider.url,
    token: provider.token,
    timeoutMs: provider.timeout,
    retries: provider.retries,
    ...(provider.ca === undefined ? {} : { ca: provider.ca }),
    ...deps,
  });
  const webhooks = createWebhooksApi(http);
  const accounts = provider.account_id === undefined ? undefined : createAccountsApi(http, provider.account_id);
  return {
    webhooks,
    ...(accounts ? { accounts } : {}),
    api: (style) => (style === 'webhooks' ? webhooks : accounts),
  };
}

export type { ApiStyle, DeliveryLogEntry, ProviderApi, RemoteWebhook, SigningApi, WebhookSpec } from './types.js';
