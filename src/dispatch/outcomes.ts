import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { SendResult } from '../sdk/index.js';
import type { ClaimedDelivery, DeliveryOutcome } from '../store/index.js';
import { decideRetry, type RetryPolicy } from './retry.js';

/** Decides what becomes of a delivery after an attempt. */
export type OutcomeOf = (delivery: ClaimedDelivery, result: SendResult | undefined, at: number, durationMs: number, paused: boolean) => DeliveryOutcome;

export interface OutcomeDeps {
  /** The connector's name, for logs and metrics. */
  readonly connector: string;
  readonly policy: RetryPolicy;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly random: () => number;
}

/**
 * What becomes of one delivery after an attempt, from the connector's result
 * alone; logged and counted here (a delivered one is counted by the batch).
 * `paused`: the connector was paused while the batch was in flight, and
 * nothing goes dead while paused, so a retriable failure is retried whatever
 * its budget (which starts over at the resume anyway).
 */
export function createOutcomeJudge(deps: OutcomeDeps): OutcomeOf {
  const { connector: name, policy, log } = deps;
  const { maxAttempts: _noLimitWhilePaused, ...unlimited } = policy;
  return (delivery, result, at, durationMs, paused) => {
    const { id, lease, event } = delivery;
    const attempt = delivery.attempts + 1;
    const context = { deliveryId: id, eventId: event.id, type: event.type, source: event.source, callId: event.subject, route: delivery.route, attempt };
    // Final like a delivery: the connector chose not to send, and says why.
    if (result?.ok && 'skipped' in result) {
      deps.metrics?.deliveries.inc({ connector: name, outcome: 'skipped' });
      log.info({ ...context, reason: result.skipped }, 'delivery skipped');
      return { id, lease, outcome: 'skipped', reason: result.skipped, durationMs };
    }
    if (result?.ok) {
      log.info(context, 'delivered');
      return { id, lease, outcome: 'delivered', durationMs };
    }
    const error = result?.error ?? 'the connector returned no result for this delivery';
    const retriable = result?.retriable ?? true;
    const decision = retriable
      ? decideRetry(paused ? unlimited : policy, { attempt, since: paused ? at : delivery.since, at, retryAfterMs: result?.retryAfterMs }, deps.random())
      : ({ retry: false, reason: 'permanent failure' } as const);
    if (!decision.retry) {
      deps.metrics?.deliveries.inc({ connector: name, outcome: 'dead' });
      log.error({ ...context, error }, `delivery dead: ${decision.reason}`);
      return { id, lease, outcome: 'dead', error, durationMs };
    }
    deps.metrics?.deliveries.inc({ connector: name, outcome: 'retry' });
    log.warn({ ...context, retryInMs: decision.at - at, error }, 'delivery failed; will retry');
    return { id, lease, outcome: 'retry', at: decision.at, error, durationMs };
  };
}

/**
 * A retriable failure while its connector is down or held (health.ts): the
 * delivery stays pending as it was, no attempt counted, none kept in its
 * history; it goes again once the connector is up.
 */
export function heldOutcome(delivery: ClaimedDelivery, result: SendResult & { ok: false }, durationMs: number, log: Logger, metrics: Metrics | undefined): DeliveryOutcome {
  metrics?.deliveries.inc({ connector: delivery.connector, outcome: 'held' });
  log.debug({ deliveryId: delivery.id, eventId: delivery.event.id, route: delivery.route, error: result.error }, 'delivery held: its connector is down or held');
  return { id: delivery.id, lease: delivery.lease, outcome: 'held', error: result.error, durationMs };
}
