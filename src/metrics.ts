import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CANONICAL_TYPES, type CanonicalEvent } from './dialects/index.js';
import { healthAt, type ConnectorHealthRecord, type DeadStats, type OperationsStore, type PendingStats } from './store/index.js';

/** The package's version, for `audian_bridge_build_info`. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A `type` label from a bounded set: a sender making up types must not make up time series. */
export function typeLabel(type: string): string {
  return CANONICAL_TYPES.has(type) ? type : 'other';
}

export interface MetricsOptions {
  readonly store?: () => OperationsStore | undefined;
  /** Every configured connector: its outbox gauges are present, at 0, before it ever had a delivery. */
  readonly connectors?: readonly string[];
  readonly defaults?: boolean;
}

/** Every Prometheus metric the service exports, on one registry (no global state, so tests can make many). */
export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  // Node's process metrics under their standard names (process_cpu_seconds_total, ...), as dashboards expect them.
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'audian_bridge_build_info',
    help: 'Always 1; the labels say which build runs.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: packageVersion(), node: process.version }, 1);
  const webhooks = new Counter({
    name: 'audian_bridge_webhooks_total',
    help: 'Webhook requests answered, by source and outcome (accepted, duplicate or an error code).',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const events = new Counter({
    name: 'audian_bridge_events_total',
    help: 'Events committed, derived ones (call.missed, call.summary, transcript.completed) included, by source, dialect and canonical type (others as "other").',
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
    help: 'Delivery attempts, by connector and outcome (delivered, skipped, retry, dead; held: failed while its connector was down or held, no attempt spent).',
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
  registerStoreGauges(registry, options);

  return {
    registry,
    webhooks,
    events,
    requestSeconds,
    deliveries,
    sendSeconds,
    routeErrors,
    /** Counts one committed event; `source` is the configured source's name. */
    countEvent(event: CanonicalEvent): void {
      const source = event.source.startsWith('audian/') ? event.source.slice('audian/'.length) : event.source;
      events.inc({ source, dialect: event.dialect, type: typeLabel(event.type) });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The gauges read from the store at each scrape: the outbox by connector, pauses, and the store's size. */
function registerStoreGauges(registry: Registry, options: MetricsOptions): void {
  const connectors = options.connectors ?? [];
  /** A store read for a gauge; nothing while the store cannot answer (the scrape still succeeds). */
  async function read<T>(query: (store: OperationsStore) => Promise<T>, fallback: T): Promise<T> {
    const store = options.store?.();
    if (!store) return fallback;
    try {
      return await query(store);
    } catch {
      return fallback;
    }
  }
  /** Per connector, every configured one included, at 0 where the store has no row. */
  function perConnector<Row extends { connector: string }>(rows: readonly Row[], value: (row: Row) => number, absent: number): Map<string, number> {
    const values = new Map(connectors.map((name) => [name, absent]));
    for (const row of rows) values.set(row.connector, value(row));
    return values;
  }
  /** A gauge per connector, every configured one present (`absent`, 0 by default, where the store has no row), read from the store at each scrape. */
  function connectorGauge<Row extends { connector: string }>(
    name: string,
    help: string,
    rows: (store: OperationsStore) => Promise<readonly Row[]>,
    value: (row: Row, now: number) => number,
    absent = 0,
  ): void {
    new Gauge({
      name,
      help,
      labelNames: ['connector'] as const,
      registers: [registry],
      async collect() {
        const found = await read(rows, [] as readonly Row[]);
        const now = Date.now();
        this.reset();
        for (const [connector, n] of perConnector(found, (row) => value(row, now), absent)) this.set({ connector }, n);
      },
    });
  }
  connectorGauge('audian_bridge_outbox_pending', 'Deliveries waiting to be sent, by connector.', (store) => store.pendingStats(), (row: PendingStats) => row.n);
  connectorGauge(
    'audian_bridge_outbox_oldest_pending_seconds',
    'Age of the oldest pending delivery, by connector: alert on this.',
    (store) => store.pendingStats(),
    (row: PendingStats, now) => Math.max(0, (now - row.oldest) / 1000),
  );
  connectorGauge('audian_bridge_outbox_dead', 'Dead deliveries kept, by connector, until replayed or purged: alert when it grows.', (store) => store.deadStats(), (row: DeadStats) => row.n);
  connectorGauge('audian_bridge_connector_paused', '1 while a connector is paused by an operator, else 0.', (store) => store.paused(), () => 1);
  // Health as the dispatcher judged it (src/dispatch/health.ts), from the store: every replica reports the same.
  connectorGauge('audian_bridge_connector_up', '0 while the dispatcher holds a connector down (unreachable; probed), else 1.', (store) => store.connectorHealth(), (row: ConnectorHealthRecord, now) =>
    healthAt(row, now).state === 'down' ? 0 : 1, 1);
  connectorGauge(
    'audian_bridge_connector_down_seconds',
    'How long a connector has been down (its deliveries wait, spending nothing), by connector; 0 while up.',
    (store) => store.connectorHealth(),
    (row: ConnectorHealthRecord, now) => (healthAt(row, now).state === 'down' ? Math.max(0, (now - row.since) / 1000) : 0),
  );
  new Gauge({
    name: 'audian_bridge_store_size_bytes',
    help: 'Bytes the store takes on disk (SQLite: the file and its WAL).',
    registers: [registry],
    async collect() {
      const size = await read((store) => store.sizeBytes(), undefined);
      this.reset();
      if (size !== undefined) this.set(size);
    },
  });
}

