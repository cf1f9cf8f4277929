import jsonata from 'jsonata';
import { z } from 'zod';
import { duration, integer, jsonataExpression, template } from '../../src/config/values.js';
import { compileTemplate } from '../../src/template.js';
import { parseRetryAfter } from '../retry-after.js';
import { permanent, retriable, sent, type Connector, type ConnectorDefinition, type Delivery, type SendResult } from '../types.js';

export const httpSchema = z.strictObject({
  type: z.literal('http'),
  /** URL template, e.g. `https://crm.example.com/api/calls/{subject}`; values are URL-encoded. */
  url: template(),
  method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
  /** Header values are templates too, e.g. `Authorization: Bearer ${CRM_TOKEN}`. */
  headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a valid header name'), template()).default({}),
  /** JSONata expression over the canonical event giving the body; default: the event itself. */
  body: jsonataExpression().optional(),
  timeout: duration().default(10_000),
  /** Requests in flight at once; events of one call are never sent concurrently. */
  concurrency: integer(1, 64).default(4),
});

export type HttpOptions = z.output<typeof httpSchema>;

/**
 * Sends each event to a URL. 2xx is delivered; 408, 429, 5xx and network
 * failures are retried (honouring `Retry-After`); any other status is permanent.
 */
export const httpConnector: ConnectorDefinition<typeof httpSchema> = {
  schema: httpSchema,
  batchSize: 32,
  create(name, options, context): Connector {
    const logger = context.logger.child({ connector: name });
    const url = compileTemplate(options.url, encodeURIComponent);
    const headers = Object.entries(options.headers).map(([header, value]) => [header, compileTemplate(value)] as const);
    const body = options.body === undefined ? undefined : jsonata(options.body);

    async function sendOne(delivery: Delivery, signal: AbortSignal): Promise<SendResult> {
      const { event } = delivery;
      const target = url.render(event);
      if (!target.ok) return permanent(`url template has no value for {${target.missing.join('}, {')}}`);
      const requestHeaders: Record<string, string> = {
        'content-type': body ? 'application/json' : 'application/cloudevents+json; charset=utf-8',
        'idempotency-key': event.id,
        'user-agent': 'audian-bridge',
      };
      for (const [header, value] of headers) {
        const rendered = value.render(event);
        if (!rendered.ok) return permanent(`header ${header} has no value for {${rendered.missing.join('}, {')}}`);
        requestHeaders[header.toLowerCase()] = rendered.value;
      }
      let payload: string;
      try {
        payload = JSON.stringify(body ? await body.evaluate(event) : event) ?? 'null';
      } catch (err) {
        return permanent(`body mapping failed: ${(err as Error).message}`);
      }

      const timeout = AbortSignal.timeout(options.timeout);
      let response: Response;
      try {
        response = await context.fetch(target.value, {
          method: options.method,
          headers: requestHeaders,
          body: payload,
          signal: AbortSignal.any([signal, timeout]),
          redirect: 'manual',
        });
      } catch (err) {
        const reason = timeout.aborted ? `timed out after ${options.timeout} ms` : (err as Error).message;
        return retriable(`request to ${new URL(target.value).host} failed: ${reason}`);
      }
      // Drain the body so the connection goes back to the pool; keep a little for the error message.
      const text = (await response.text().catch(() => '')).slice(0, 300);
      if (response.ok) return sent;
      const detail = `${options.method} ${new URL(target.value).host} answered ${response.status}${text ? `: ${text}` : ''}`;
      if (response.status === 408 || response.status === 429 || response.status >= 500) {
        return retriable(detail, parseRetryAfter(response.headers.get('retry-after'), context.now()));
      }
      return permanent(detail);
    }

    return {
      name,
      async start() {
        logger.debug({ url: options.url }, 'http connector ready');
      },
      async send(batch, signal) {
        const results: SendResult[] = new Array(batch.length);
        let next = 0;
        const worker = async () => {
          while (next < batch.length) {
            const index = next++;
            results[index] = await sendOne(batch[index] as Delivery, signal);
          }
        };
        await Promise.all(Array.from({ length: Math.min(options.concurrency, batch.length) }, worker));
        return results;
      },
      async stop() {},
    };
  },
};
