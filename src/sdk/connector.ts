import type { ConnectorState } from '../store/types.js';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CanonicalEvent } from '../dialects/index.js';

/**
 * The connector contract. In short:
 *
 * - each folder exports one `ConnectorDefinition`: its `type` name, its
 *   options' schema, `batchSize`, `maxPerCall` (how many deliveries of one
 *   call a batch may carry) and `create`, which does no I/O;
 * - the instance has `start` / `send` / `stop` for the dispatcher, and
 *   `preview(event)`: what `send` would do with the event (`send` with the
 *   target and the message, secrets redacted; `skip` and why; `fail` and
 *   why), with no side effect, before or after `start`;
 * - `send` classifies each delivery's failure itself (`retriable` or
 *   `permanent`, with `Retry-After`), and one bad delivery never fails the
 *   others of its batch.
 */

/** One event on its way to one connector through one route. */
export interface Delivery {
  /** The outbox row id; stable across retries. */
  readonly id: number;
  readonly route: string;
  /** 1 for the first try. */
  readonly attempt: number;
  /**
   * Set when an operator replays a delivery that was delivered already: the
   * n-th resend. A connector derives a new idempotency key from it (the
   * receiver would drop the resend as a duplicate otherwise) and lets it past
   * any stale-update guard: it is sent again on purpose.
   */
  readonly replay?: number;
  readonly event: CanonicalEvent;
}

/**
 * The outcome of one delivery. Connectors classify their own failures; the
 * dispatcher decides retry, backoff and dead-lettering from this alone.
 */
export type SendResult =
  | { readonly ok: true }
  /** Deliberately not sent (e.g. an update older than one already delivered); final, recorded with the reason. */
  | { readonly ok: true; readonly skipped: string }
  | {
      readonly ok: false;
      /** False for failures that no retry can fix (bad request, unknown topic, revoked token). */
      readonly retriable: boolean;
      readonly error: string;
      /** The receiver's own wait (HTTP `Retry-After`, Slack rate limits), in ms. */
      readonly retryAfterMs?: number;
      /**
       * Set when the failure is the connector's, not this delivery's: the
       * dispatcher then judges the connector's health instead of spending the
       * delivery's attempts.
       * - `unreachable`: the target cannot be reached at all (connection
       *   refused or reset, DNS, TLS, timeout, broker not available, Slack
       *   `service_unavailable`);
       * - `server`: the target answered with a server error (5xx); one is
       *   not enough to call the connector down, several in a row are;
       * - `throttled`: the target asked the whole connector to wait
       *   (`retryAfterMs`, e.g. a 429 with `Retry-After`).
       */
      readonly fault?: ConnectorFault;
    };

/** Why a failure is the connector's rather than one delivery's; see `SendResult`. */
export type ConnectorFault = 'unreachable' | 'server' | 'throttled';

/** What a connector's health probe found: reachable with working credentials, or why not. */
export type ProbeResult = { readonly ok: true; readonly detail?: string } | { readonly ok: false; readonly reason: string };

/** The lifecycle the dispatcher drives; every connector type has this one shape, so the dispatcher knows none of them. */
export interface Connector {
  readonly name: string;
  /**
   * How many batches may be in flight at once (default 1). More lets other
   * calls' deliveries go on while one target is slow or hangs; one call's
   * deliveries never overlap whatever this is.
   */
  readonly concurrency?: number;
  /** Connect and warm up. A failure here does not stop the service: deliveries wait and are retried. */
  start(): Promise<void>;
  /**
   * Sends a batch; returns one result per delivery, in the batch's order. A
   * problem with one delivery is that delivery's result: `send` rejects only
   * for what concerns the whole batch, and then every delivery is retried.
   */
  send(batch: readonly Delivery[], signal: AbortSignal): Promise<SendResult[]>;
  /** Flush and close. */
  stop(): Promise<void>;
  /**
   * Checks that the target is reachable and the credentials work, with a
   * request that is safe to send (Kafka: metadata with a leader for every
   * partition of its topics; Slack: `auth.test`; http: its `health` request;
   * transcript and file: the directory is writable). Works before `start()`;
   * never sends a delivery. The dispatcher probes a connector that is down
   * until this answers ok; `audian-bridge check --connect` runs it once.
   */
  probe(signal: AbortSignal): Promise<ProbeResult>;
}

/**
 * What a connector would do with one event, as `send` would do it, told
 * without doing it (for `audian-bridge explain`):
 * - `send`: `target` names where it goes (`PUT https://crm.example/calls/c1`,
 *   `topic audian.calls`, `channel C0123`, a file path); `message` holds what
 *   goes there (URL, headers, body; topic, key, headers, value; Slack blocks;
 *   a line), with secrets replaced by `[redacted]`.
 * - `skip`: the delivery would count as delivered without sending anything
 *   (e.g. a transcript connector given an event without a transcript).
 * - `fail`: the delivery would fail permanently, and why (a template without
 *   a value, a URL that a value would steer, a message too large).
 */
export type Preview =
  | { readonly outcome: 'send'; readonly target: string; readonly message: Readonly<Record<string, unknown>> }
  | { readonly outcome: 'skip'; readonly reason: string }
  | { readonly outcome: 'fail'; readonly error: string };

export interface Previewer {
  /**
   * Free of side effects: no network, no file written, no state changed; it
   * may read the connector's state. Works before `start()`, so a connector
   * created only to preview never connects. `route` is the route the event
   * would go by, where the preview depends on it (the http idempotency key).
   */
  preview(event: CanonicalEvent, route?: string): Promise<Preview>;
}

/** A connector's own small key-value state that survives restarts (e.g. Slack thread timestamps); kept by the store. */
export type { ConnectorState };

export interface ConnectorContext {
  readonly logger: Logger;
  /** Injected so tests and proxies can stand in; defaults to the global fetch. */
  readonly fetch: typeof fetch;
  readonly now: () => number;
  /** Durable state of this connector (in the bridge's store); absent where nothing persists, e.g. unit tests. */
  readonly state?: ConnectorState;
}

/** What each connector folder exports: its type name, its options' schema and its factory. */
export interface ConnectorDefinition<Schema extends z.ZodType = z.ZodType> {
  /** The name used in config `type:`; the schema's `type` is this literal, and the registry is keyed by it. */
  readonly type: string;
  readonly schema: Schema;
  /** How many deliveries the dispatcher hands over at once. */
  readonly batchSize: number;
  /**
   * How many deliveries of one call one batch may carry. 1: the connector may
   * send a batch's deliveries concurrently and in any order (http, slack).
   * More: it keeps the batch's order within a call, and once one of a call's
   * deliveries fails retriably, the call's later deliveries in that batch are
   * not sent and fail retriably too, so a retry never lets a later event of
   * the call overtake an earlier one (kafka, file, transcript).
   */
  readonly maxPerCall: number;
  /** Builds the connector without any I/O (that is `start()`'s work), so `preview` works on a fresh instance. */
  create(name: string, options: z.output<Schema>, context: ConnectorContext): Connector & Previewer;
}

/** Every connector type by its config `type:` name. */
export type ConnectorRegistry = Readonly<Record<string, ConnectorDefinition>>;

/** The registry of `definitions`, keyed by each one's `type`; throws on a name given twice. */
export function createRegistry(definitions: readonly ConnectorDefinition[]): ConnectorRegistry {
  const registry: Record<string, ConnectorDefinition> = {};
  for (const definition of definitions) {
    if (Object.hasOwn(registry, definition.type)) throw new Error(`two connector definitions are named "${definition.type}"`);
    registry[definition.type] = definition;
  }
  return Object.freeze(registry);
}

/** Connector state kept in memory, for where nothing persists (unit tests, a connector created without a store). */
export function memoryState(now: () => number): ConnectorState {
  const values = new Map<string, { value: string; expiresAt: number }>();
  return {
    async get(key) {
      const entry = values.get(key);
      return entry && entry.expiresAt > now() ? entry.value : undefined;
    },
    async set(key, value, expiresAt) {
      values.set(key, { value, expiresAt });
    },
  };
}

/** Shorthands for the common results. */
export const sent: SendResult = { ok: true };
export function skipped(reason: string): SendResult {
  return { ok: true, skipped: reason };
}
export function retriable(error: string, retryAfterMs?: number, fault?: ConnectorFault): SendResult {
  return {
    ok: false,
    retriable: true,
    error,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(fault === undefined ? {} : { fault }),
  };
}
export function permanent(error: string): SendResult {
  return { ok: false, retriable: false, error };
}
