import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PendingStats, Store } from './store/index.js';

/** Every Prometheus metric the service exports, on one registry (no global state, so tests can make many). */
export function createMetrics(options: { store?: () => Store | undefined; defaults?: boolean } = {}) {
  const registry = new Registry();
  /** The outbox gauges' numbers; none while the store cannot answer (the scrape still succeeds). */
  const pending = async (): Promise<PendingStats[]> => {
    try {
      return (await options.store?.()?.pendingStats()) ?? [];
    } catch {
      return [];
    }
  };
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'audian_bridge_' });

  const webhooks = new Counter({
    name: 'audian_bridge_webhooks_total',
    help: 'Webhook requests answered, by source and outcome (accepted, duplicate or an error code).',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const events = new Counter({
    name: 'audian_bridge_events_total',
    help: 'Events committed, by source, dialect and canonical type.',
    labelNames: ['source', 'dialect', 'type'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'audian_bridge_webhook_duration_seconds',
    help: 'Time from request to answer for webhook requests, commit included.',
    labelNames: ['source'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'audian_bridge_deliveries_total',
    help: 'Delivery attempts, by connector and outcome (delivered, retry, dead).',
    labelNames: ['connector', 'outcome'] as const,
    registers: [registry],
  });
  const sendSeconds = new Histogram({
    name: 'audian_bridge_send_duration_seconds',
    help: 'Time a connector took to send one batch.',
    labelNames: ['connector'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [registry],
  });
  const routeErrors = new Counter({
    name: 'audian_bridge_route_when_errors_total',
    help: 'Route "when" expressions that failed at run time (the event was not routed there).',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'audian_bridge_outbox_pending',
    help: 'Deliveries waiting to be sent, by connector.',
    labelNames: ['connector'] as const,
    registers: [registry],
    async collect() {
      const rows = await pending();
      this.reset();
      for (const row of rows) this.set({ connector: row.connector }, row.n);
    },
  });
  new Gauge({
    name: 'audian_bridge_outbox_oldest_pending_seconds',
    help: 'Age of the oldest pending delivery, by connector: alert on this.',
    labelNames: ['connector'] as const,
    registers: [registry],
    async collect() {
      const rows = await pending();
      this.reset();
      const now = Date.now();
      for (const row of rows) {
        this.set({ connector: row.connector }, Math.max(0, (now - row.oldest) / 1000));
      }
    },
  });

  return { registry, webhooks, events, requestSeconds, deliveries, sendSeconds, routeErrors };
}

export type Metrics = ReturnType<typeof createMetrics>;
