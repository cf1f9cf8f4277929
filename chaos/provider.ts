import { signAudianRequest } from '../src/verify/index.js';
import type { PlannedCall, PlannedWebhook } from './workload.js';

/**
 * Sends the planned webhooks as the provider would: each one at its time, to
 * one of the bridge's replicas; anything but a 200 (a 503, a reset, a refused
 * connection) is sent again after the answer's Retry-After (2 s without one),
 * until it is acknowledged or the provider gives up. Records what was
 * acknowledged and when: the checker judges on that.
 */

export interface Acknowledgement {
  readonly eventId: string;
  readonly firstSentAt: number;
  readonly ackAt: number;
}

export interface Refusal {
  readonly at: number;
  /** The HTTP status, or `error` when no answer came. */
  readonly status: number | 'error';
}

export interface ProviderRecord {
  readonly acks: Map<PlannedWebhook, Acknowledgement>;
  readonly refusals: Refusal[];
  /** Provider retries of webhooks already acknowledged when they went out. */
  retriesSent: number;
  /** ...that the bridge took as new events (not `duplicate`, or another id). */
  retriesAdded: number;
}

export interface ProviderOptions {
  /** The replicas that take webhooks now (a killed one stays listed: its refusals are the provider's to retry). */
  readonly urls: () => readonly string[];
  readonly path: string;
  readonly secret: string;
  readonly random: () => number;
}

const REQUEST_TIMEOUT_MS = 15_000;
const RETRY_WITHOUT_HINT_MS = 2_000;

export function createProvider(options: ProviderOptions) {
  const record: ProviderRecord = { acks: new Map(), refusals: [], retriesSent: 0, retriesAdded: 0 };
  const firstSent = new Map<PlannedWebhook, number>();

  /** One POST; the answer's status, body and Retry-After, or undefined when no answer came. */
  async function post(webhook: PlannedWebhook): Promise<{ status: number; id?: string; duplicate?: boolean; retryAfterMs?: number } | undefined> {
    const urls = options.urls();
    const url = urls[Math.floor(options.random() * urls.length)]!;
    try {
      const response = await fetch(`${url}${options.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signAudianRequest(webhook.body, options.secret) },
        body: webhook.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      const retryAfter = Number(response.headers.get('retry-after'));
      const parsed = response.status === 200 ? (JSON.parse(text) as { id?: string; duplicate?: boolean }) : {};
      return { status: response.status, ...parsed, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    } catch {
      return undefined;
    }
  }

  /** Sends `webhook` until it is acknowledged or `giveUpAt` passes. */
  async function deliver(webhook: PlannedWebhook, isRetry: boolean, giveUpAt: number): Promise<void> {
    for (;;) {
      const sentAt = Date.now();
      if (!firstSent.has(webhook)) firstSent.set(webhook, sentAt);
      const ackedBefore = record.acks.get(webhook);
      if (isRetry && ackedBefore) record.retriesSent++;
      const answer = await post(webhook);
      if (answer?.status === 200 && answer.id !== undefined) {
        const known = record.acks.get(webhook);
        if (!known) record.acks.set(webhook, { eventId: answer.id, firstSentAt: firstSent.get(webhook)!, ackAt: Date.now() });
        // Acknowledged before this one went out, yet taken as new: the retry added an event.
        else if (ackedBefore && ackedBefore.ackAt < sentAt && (answer.duplicate !== true || answer.id !== known.eventId)) record.retriesAdded++;
        return;
      }
      record.refusals.push({ at: sentAt, status: answer?.status ?? 'error' });
      const waitMs = answer?.retryAfterMs ?? RETRY_WITHOUT_HINT_MS;
      if (Date.now() + waitMs > giveUpAt) return;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  /**
   * Sends every planned webhook and retry at its time from `startedAt`; resolves when
   * all have been answered 200 or given up at `giveUpAt`.
   */
  async function run(calls: readonly PlannedCall[], startedAt: number, giveUpAt: number): Promise<void> {
    const sends = calls
      .flatMap((call) => call.webhooks.flatMap((webhook) => [{ webhook, at: webhook.sendAtMs, isRetry: false }, ...webhook.retriesAtMs.map((at) => ({ webhook, at, isRetry: true }))]))
      .sort((a, b) => a.at - b.at);
    const inFlight: Promise<void>[] = [];
    for (const send of sends) {
      const wait = startedAt + send.at - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(deliver(send.webhook, send.isRetry, giveUpAt));
    }
    await Promise.all(inFlight);
  }

  return { record, run };
}
