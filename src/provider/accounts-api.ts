import { z } from 'zod';
import { BridgeError } from '../errors.js';
import { MAX_PAGES, readAnswer } from './answers.js';
import type { ProviderHttp } from './http.js';
import type { Created, ProviderApi, RemoteWebhook, WebhookSpec } from './types.js';

/**
 * The accounts API (seed 000, "Webhooks"): `/v2/accounts/{ACCOUNT_ID}/webhooks`,
 * one webhook per `hook`, the list asked for with `paginate=false`, create
 * with PUT, update with POST, DELETE and `/test`. Every answer is an envelope
 * `{auth_token, data, request_id, status}`: only `data` is read, and nothing of
 * it is ever shown as it came.
 */

/** Retries the provider makes per event (seed 000's create example). */
const PROVIDER_RETRIES = 3;

const webhookSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  uri: z.string(),
  hook: z.string(),
  enabled: z.boolean().optional(),
});

/** The envelope: `status` other than `success` is a refusal even with a 2xx. */
const envelope = <T extends z.ZodType>(data: T) => z.looseObject({ data, status: z.string().optional(), next_start_key: z.string().nullish() });

const listSchema = envelope(z.array(webhookSchema));
const createdSchema = envelope(z.looseObject({ id: z.string().min(1) }));
const testedSchema = envelope(z.looseObject({ id: z.string().optional(), event_id: z.string().optional() }).nullish()).optional();

function remoteOf(item: z.output<typeof webhookSchema>): RemoteWebhook {
  return { api: 'accounts', id: item.id, url: item.uri, events: [item.hook], label: item.name ?? undefined, enabled: item.enabled ?? true };
}

function succeeded(answer: { status?: string | undefined }, endpoint: string): void {
  if (answer.status !== undefined && answer.status !== 'success') {
    throw new BridgeError('PROVIDER_REJECTED', `${endpoint} answered with status "${answer.status.slice(0, 40)}" instead of "success"`);
  }
}

export function createAccountsApi(http: ProviderHttp, accountId: string): ProviderApi {
  const base = `/v2/accounts/${encodeURIComponent(accountId)}/webhooks`;
  const one = (id: string, rest = '') => `${base}/${encodeURIComponent(id)}${rest}`;
  const account = `account ${accountId}`;

  return {
    style: 'accounts',
    async list() {
      const endpoint = 'GET /v2/accounts/{ACCOUNT_ID}/webhooks';
      const all: RemoteWebhook[] = [];
      let startKey: string | undefined;
      // `paginate=false` asks for everything; a `next_start_key` in the answer is followed all the same.
      for (let page = 0; page < MAX_PAGES; page++) {
        const { body } = await http({ method: 'GET', path: base, subject: account, query: { paginate: 'false', start_key: startKey } });
        const answer = readAnswer(listSchema, body, endpoint);
        succeeded(answer, endpoint);
        all.push(...answer.data.map(remoteOf));
        if (!answer.next_start_key || answer.next_start_key === startKey || answer.data.length === 0) return all;
        startKey = answer.next_start_key;
      }
      throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} still had a next_start_key after ${MAX_PAGES} pages`);
    },

    async create(spec: WebhookSpec): Promise<Created> {
      const endpoint = 'PUT /v2/accounts/{ACCOUNT_ID}/webhooks';
      const { body } = await http({
        method: 'PUT',
        path: base,
        subject: account,
        body: { data: { name: spec.label, uri: spec.url, hook: spec.events[0], http_verb: 'post', retries: PROVIDER_RETRIES, enabled: spec.enabled } },
      });
      const answer = readAnswer(createdSchema, body, endpoint);
      succeeded(answer, endpoint);
      return { id: answer.data.id };
    },

    async update(id, spec) {
      const endpoint = 'POST /v2/accounts/{ACCOUNT_ID}/webhooks/{WEBHOOK_ID}';
      const { body } = await http({ method: 'POST', path: one(id), subject: `webhook ${id} of ${account}`, body: { data: { enabled: spec.enabled, uri: spec.url } } });
      if (body !== undefined) succeeded(readAnswer(envelope(z.unknown()).partial(), body, endpoint), endpoint);
    },

    async remove(id) {
      await http({ method: 'DELETE', path: one(id), subject: `webhook ${id} of ${account}` });
    },

    async test(id) {
      const endpoint = 'POST /v2/accounts/{ACCOUNT_ID}/webhooks/{WEBHOOK_ID}/test';
      const { body } = await http({ method: 'POST', path: one(id, '/test'), subject: `webhook ${id} of ${account}` });
      const answer = readAnswer(testedSchema, body, endpoint);
      if (answer) succeeded(answer, endpoint);
      const data = answer?.data ?? undefined;
      const eventId = data?.event_id ?? (data?.id !== id ? data?.id : undefined);
      return eventId ? { eventId } : {};
    },
  };
}
