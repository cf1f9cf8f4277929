import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import Database from '../../src/store/sqlite/driver.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig, type BridgeConfig } from '../../src/config/load.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { startService, type RunningService } from '../../src/service.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { Db } from '../../src/store/sqlite/db.js';
import { waitFor } from './wait.js';
import { signAudianRequest } from '../../src/verify/index.js';

export const TEST_SECRET = 'whsec_test_secret';

export interface TestBridge extends ServiceWithDb {
  /** A fresh temporary directory holding the database and file outputs; removed by `stop`. */
  readonly dir: string;
  /** POSTs `body` to a source path; signs it with TEST_SECRET unless `sign: false`. */
  post(path: string, body: unknown, options?: PostOptions): Promise<PostResult>;
}

export interface PostOptions {
  readonly sign?: boolean;
  readonly secret?: string;
  readonly timestamp?: number;
  readonly headers?: Record<string, string>;
  readonly contentType?: string;
}

export interface PostResult {
  readonly status: number;
  readonly body: Record<string, unknown> & { error?: { code: string; message: string } };
}

/**
 * The smallest useful config: one HMAC source `main` at /webhooks/audian and
 * every event to a file connector `events` at `<dir>/events.jsonl`.
 * `overrides` are merged over it section by section.
 */
export function baseConfig(dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    store: { path: join(dir, 'bridge.db'), dedupe_ttl: '7d' },
    lifecycle: { missed_call_grace: '200ms' },
    dispatch: { retry_initial: '50ms', retry_max: '2s', poll_interval: '100ms' },
    sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET], tolerance: '300s' } } }],
    connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
    routes: [{ name: 'all', to: 'events' }],
    ...overrides,
  };
}

/** A service started in this process, with its store's own SQLite connection at hand. */
export type ServiceWithDb = RunningService & { readonly db: Db };

/** Starts the service on `config`, on a SQLite store opened here so the test can reach its connection. */
export async function startServiceWithDb(config: BridgeConfig, logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })): Promise<ServiceWithDb> {
  const store = createSqliteStore(config.store.path, { exclusive: true });
  return { ...(await startService(config, { logger, store })), db: store.db };
}

/** Starts the service in this process on a free port, configured by `configFor(dir)`. */
export async function startBridge(
  configFor: (dir: string) => Record<string, unknown> = (dir) => baseConfig(dir),
  env: Record<string, string | undefined> = {},
): Promise<TestBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-test-'));
  const config = parseConfig(YAML.stringify(configFor(dir)), env, CONNECTORS);
  const service = await startServiceWithDb(config);
  return {
    ...service,
    dir,
    post: (path, body, options) => postWebhook(`${service.url}${path}`, body, options),
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends one webhook the way Audian does: raw JSON body, HMAC headers. */
export async function postWebhook(url: string, body: unknown, options: PostOptions = {}): Promise<PostResult> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/json',
    ...(options.sign === false ? {} : signAudianRequest(raw, options.secret ?? TEST_SECRET, options.timestamp === undefined ? {} : { timestamp: options.timestamp })),
    ...options.headers,
  };
  const response = await fetch(url, { method: 'POST', headers, body: raw });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as PostResult['body']) : {} };
}

/** Reads a JSON-lines file written by the file connector; missing file = no events yet. */
export function readEvents(path: string): CanonicalEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as CanonicalEvent);
}

/**
 * Waits until every delivery in the SQLite file at `path` is recorded as
 * delivered, reading it on a connection of its own (the bridge may be another
 * process); resolves with how many deliveries there are.
 */
export async function waitForOutboxDelivered(path: string, timeoutMs = 20_000): Promise<number> {
  const reader = new Database(path, { readonly: true });
  try {
    const count = (where: string) => (reader.prepare(`SELECT COUNT(*) AS n FROM deliveries ${where}`).get() as { n: number }).n;
    await waitFor(() => count("WHERE status != 'delivered'") === 0, { timeoutMs, what: 'every delivery recorded as delivered' });
    return count('');
  } finally {
    reader.close();
  }
}
