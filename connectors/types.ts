import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CanonicalEvent } from '../src/dialects/index.js';
import type { ConnectorState } from '../src/store/types.js';

export type { ConnectorState };

/** One event on its way to one connector through one route. */
export interface Delivery {
  /** The outbox row id; stable across retries. */
  readonly id: number;
  readonly route: string;
  /** 1 for the first try. */
  readonly attempt: number;
  readonly event: CanonicalEvent;
}

/**
 * The outcome of one delivery. Connectors classify their own failures; the
 * dispatcher decides retry, backoff and dead-lettering from this alone.
 */
export type SendResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** False for failures that no retry can fix (bad request, unknown topic, revoked token). */
      readonly retriable: boolean;
      readonly error: string;
      /** The receiver's own wait (HTTP `Retry-After`, Slack rate limits), in ms. */
      readonly retryAfterMs?: number;
    };

export interface Connector {
  readonly name: string;
  /** Connect and warm up. A failure here does not stop the service: deliveries wait and are retried. */
  start(): Promise<void>;
  /** Sends a batch; returns one result per delivery, in the batch's order. */
  send(batch: readonly Delivery[], signal: AbortSignal): Promise<SendResult[]>;
  /** Flush and close. */
  stop(): Promise<void>;
}

export interface ConnectorContext {
  readonly logger: Logger;
  /** Injected so tests and proxies can stand in; defaults to the global fetch. */
  readonly fetch: typeof fetch;
  readonly now: () => number;
  /** Durable state of this connector (in the bridge's SQLite file); absent where nothing persists, e.g. unit tests. */
  readonly state?: ConnectorState;
}

/** What each connector folder exports: its options' schema and its factory. */
export interface ConnectorDefinition<Schema extends z.ZodType = z.ZodType> {
  readonly schema: Schema;
  /** How many deliveries the dispatcher hands over at once. */
  readonly batchSize: number;
  /** How many deliveries of one call a batch may carry (default 1); more only where the connector keeps their order. */
  readonly maxPerCall?: number;
  create(name: string, options: z.output<Schema>, context: ConnectorContext): Connector;
}

/** Shorthands for the common results. */
export const sent: SendResult = { ok: true };
export function retriable(error: string, retryAfterMs?: number): SendResult {
  return retryAfterMs === undefined ? { ok: false, retriable: true, error } : { ok: false, retriable: true, error, retryAfterMs };
}
export function permanent(error: string): SendResult {
  return { ok: false, retriable: false, error };
}
