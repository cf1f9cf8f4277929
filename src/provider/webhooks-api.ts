import { z } from 'zod';
import { BridgeError } from '../errors.js';
import { MAX_PAGES, morePages, paginationSchema, readAnswer } from './answers.js';
import type { ProviderHttp } from './http.js';
import type { Created, DeliveryLogEntry, ProviderApi, RemoteWebhook, SigningApi, WebhookSpec } from './types.js';

/**
 * The webhooks API (seed 002, "Webhook Setup"): `/v2/webhooks` with an
 * `events` list, a `signing_secret` on create, PATCH, DELETE, `/test`,
 * `/logs` and `/rotate-secret`. Where the document shows no answer (the list,
 * `/test`), the shapes below are the assumptions of docs/provider-setup.md.
 */

const PAGE_LIMIT = 100;

const webhookSchema = z.looseObject({
  id: z.string().min(1),
  url: z.string(),
  events: z.array(z.string()),
  active: z.boolean(),
  description: z.string().nullish(),
});

/** The list: `{data: [...], pagination}` like the delivery log, or a bare array. */
const listSchema = z.union([
  z.array(webhookSchema).transform((data) => ({ data, pagination: undefined })),
  z.looseObject({ data: z.array(webhookSchema), pagination: paginationSchema.optional() }),
]);

const createdSchema = z.looseObject({ id: z.string().min(1), signing_secret: z.string().min(1).optional() });
const rotatedSchema = z.looseObject({ signing_secret: z.string().min(1) });
const testedSchema = z.looseObject({ event_id: z.string().optional(), id: z.string().optional(), data: z.looseObject({ id: z.string().optional() }).optional() }).optional();

const logEntrySchema = z.looseObject({
  id: z.string().min(1),
  event: z.string(),
  timestamp: z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not an ISO 8601 time'),
  status: z.string(),
  response_status: z.number().int().nullish(),
  attempts: z.number().int().nullish(),
});
const logsSchema = z.looseObject({ data: z.array(logEntrySchema), pagination: paginationSchema.optional() });

function remoteOf(item: z.output<typeof webhookSchema>): RemoteWebhook {
  return { api: 'webhooks', id: item.id, url: item.url, events: item.events, label: item.description ?? undefined, enabled: item.active };
}

const path = (id: string, rest = '') => `/v2/webhooks/${encodeURIComponent(id)}${rest}`;

export function createWebhooksApi(http: ProviderHttp): ProviderApi & SigningApi {
  /** Every page of a page-numbered list (seed 002's `pagination`), bounded by MAX_PAGES. */
  async function allPages<T>(endpoint: string, fetchPage: (page: number) => Promise<{ items: T[]; pagination: z.output<typeof paginationSchema> | undefined }>): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { items, pagination } = await fetchPage(page);
      all.push(...items);
      if (!morePages(pagination, page, PAGE_LIMIT, items.length)) return all;
    }
    throw new BridgeError('PROVIDER_MALFORMED', `${endpoint} still had more pages after ${MAX_PAGES}: its pagination does not end`);
  }

  return {
    style: 'webhooks',
    list: () =>
      allPages('GET /v2/webhooks', async (page) => {
        const { body } = await http({ method: 'GET', path: '/v2/webhooks', query: { page, limit: PAGE_LIMIT } });
        const answer = readAnswer(listSchema, body, 'GET /v2/webhooks');
        return { items: answer.data.map(remoteOf), pagination: answer.pagination };
      }),

    async create(spec: WebhookSpec): Promise<Created> {
      const { body } = await http({ method: 'POST', path: '/v2/webhooks', body: { url: spec.url, events: spec.events, active: spec.enabled, description: spec.label } });
      const created = readAnswer(createdSchema, body, 'POST /v2/webhooks');
      return { id: created.id, ...(created.signing_secret ? { signingSecret: created.signing_secret } : {}) };
    },

    async update(id, spec) {
      await http({ method: 'PATCH', path: path(id), subject: `webhook ${id}`, body: { url: spec.url, events: spec.events, active: spec.enabled } });
    },

    async remove(id) {
      await http({ method: 'DELETE', path: path(id), subject: `webhook ${id}` });
    },

    async test(id, event) {
      const { body } = await http({ method: 'POST', path: path(id, '/test'), subject: `webhook ${id}`, body: { event: event ?? 'call.completed' } });
      const answer = readAnswer(testedSchema, body, 'POST /v2/webhooks/{id}/test');
      // An answer naming the webhook itself says nothing about the event it sent.
      const eventId = answer?.event_id ?? answer?.data?.id ?? (answer?.id !== id ? answer?.id : undefined);
      return eventId ? { eventId } : {};
    },

    async rotateSecret(id) {
      const { body } = await http({ method: 'POST', path: path(id, '/rotate-secret'), subject: `webhook ${id}` });
      return readAnswer(rotatedSchema, body, 'POST /v2/webhooks/{id}/rotate-secret').signing_secret;
    },

    async logs(id, since) {
      const endpoint = 'GET /v2/webhooks/{id}/logs';
      const entries = await allPages(endpoint, async (page) => {
        const { body } = await http({ method: 'GET', path: path(id, '/logs'), subject: `webhook ${id}`, query: { page, limit: PAGE_LIMIT, since: new Date(since).toISOString() } });
        const answer = readAnswer(logsSchema, body, endpoint);
        return { items: answer.data, pagination: answer.pagination };
      });
      // `since` may be ignored by the provider: the window is applied here as well.
      return entries
        .filter((entry) => Date.parse(entry.timestamp) >= since)
        .map((entry): DeliveryLogEntry => ({
          id: entry.id,
          event: entry.event,
          timestamp: entry.timestamp,
          status: entry.status,
          responseStatus: entry.response_status ?? undefined,
          attempts: entry.attempts ?? undefined,
        }));
    },
  };
}
