/**
 * What this process does, as it happens: every webhook answered and every
 * delivery attempt's outcome. The live tails (the console's page, the admin
 * API's stream, `audian-bridge tail --admin`) and the per-minute counts read
 * it. It lives in memory and holds no history of its own: a listener sees
 * what happens after it subscribed, in this process only.
 */

/** A webhook this process answered. */
export interface WebhookActivity {
  readonly kind: 'webhook';
  readonly at: number;
  /** The source's name in the config. */
  readonly source: string;
  readonly outcome: 'accepted' | 'duplicate' | 'rejected';
  /** The stable error code of a refused webhook. */
  readonly code?: string;
  readonly eventId?: string;
  readonly type?: string;
  readonly callId?: string;
  readonly from?: string;
  readonly to?: string;
}

/** The outcome of one delivery attempt. */
export interface DeliveryActivity {
  readonly kind: 'delivery';
  readonly at: number;
  readonly connector: string;
  readonly route: string;
  readonly deliveryId: number;
  /** The name of the source the event came in by, when it is one of this bridge's (`audian/<name>`). */
  readonly source?: string;
  readonly eventId: string;
  readonly type: string;
  readonly callId: string;
  readonly attempt: number;
  /** `held`: the connector is down (or held), so the failure spent nothing and the delivery waits (src/dispatch/health.ts). */
  readonly outcome: 'delivered' | 'skipped' | 'retry' | 'dead' | 'held';
  readonly error?: string;
  /** From the event's arrival to this outcome. */
  readonly latencyMs: number;
}

export type Activity = WebhookActivity | DeliveryActivity;

export interface ActivityFeed {
  publish(activity: Activity): void;
  /** Calls `listener` for each activity from now on; returns the unsubscribe. A listener that throws is dropped. */
  subscribe(listener: (activity: Activity) => void): () => void;
}

export function createActivityFeed(): ActivityFeed {
  const listeners = new Set<(activity: Activity) => void>();
  return {
    publish(activity) {
      for (const listener of listeners) {
        try {
          listener(activity);
        } catch {
          listeners.delete(listener);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
