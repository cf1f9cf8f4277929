import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpConnector, httpSchema } from '../../connectors/http/index.js';
import { slackConnector, slackSchema } from '../../connectors/slack/index.js';
import { freePort } from '../../scripts/kafka-broker.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { createDispatcher, type DispatchOptions } from '../../src/dispatch/dispatcher.js';
import type { HealthOptions } from '../../src/dispatch/health.js';
import { retriable, type Connector } from '../../src/sdk/index.js';
import type { DeliveryRecord } from '../../src/store/index.js';
import { createMetrics } from '../../src/metrics.js';
import { createOperations } from '../../src/ops/operations.js';
import { createSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { startFakeSlack } from '../helpers/fake-slack.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Connector health (src/dispatch/health.ts) with the real dispatcher, a real
 * SQLite store, the real http connector and a local HTTP target that goes
 * away and comes back. The clock is injected: the test moves it, so hours of
 * outage take a few seconds and nothing here asserts wall-clock timing.
 */

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The project's default retry schedule (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 4 h), with a max_age shorter than the outages below. */
const OPTIONS: DispatchOptions = {
  retry: { schedule: [5_000, 30_000, 120_000, 600_000, 1_800_000, HOUR, 4 * HOUR], maxAgeMs: HOUR },
  pollIntervalMs: 10,
  sendTimeoutMs: 5_000,
};
/** Probes every 20 ms of the injected clock, so each step of it makes one due. */
const HEALTH: HealthOptions = { probeIntervalMs: 20, maxProbeIntervalMs: 200, flapWindowMs: MINUTE };

let dir: string;
let store: SqliteStore;
let clock: number;
let cleanups: (() => Promise<void>)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-health-'));
  store = createSqliteStore(join(dir, 'bridge.db'));
  clock = T0;
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function event(id: string, call: string, type = 'call.ringing'): CanonicalEvent {
  const data = type === 'call.missed' ? { call_id: call, from: '+14155550100', to: '+14155550199', reason: 'no_answer' } : {};
  return {
    specversion: '1.0', id, source: 'audian/test', type, subject: call,
    time: new Date(T0).toISOString(), datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data,
  };
}

/** `perCall` events on each of `calls` calls, accepted at the clock's time, in order within each call. */
async function accept(calls: number, perCall: number, type?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= perCall; n++) {
    for (let c = 1; c <= calls; c++) {
      const ev = event(`evt-${c}-${n}`, `call-${c}`, type);
      ids.push(ev.id);
      await store.commit({ event: ev, receivedAt: clock, advance: () => ({ event: ev, targets: [{ route: 'r', connector: 'crm' }] }) });
    }
  }
  return ids;
}

function httpTo(port: number): Connector {
  const options = httpSchema.parse({ type: 'http', url: `http://127.0.0.1:${port}/calls`, timeout: '2s' });
  return httpConnector.create('crm', options, { logger: pino({ level: 'silent' }), fetch: globalThis.fetch, now: () => clock });
}

/** The dispatcher's log lines, as JSON. */
let logged: { level: number; msg: string; connector?: string; reason?: string; downForMs?: number }[];

function start(connector: Connector, health: Partial<HealthOptions> = HEALTH, now: () => number = () => clock) {
  logged = [];
  const dispatcher = createDispatcher({
    store,
    connectors: new Map([['crm', { connector, batchSize: 1, maxPerCall: 1 }]]),
    options: OPTIONS,
    logger: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line) as (typeof logged)[number]) }),
    now,
    random: () => 0.5,
    health,
  });
  dispatcher.start();
  cleanups.push(async () => {
    await dispatcher.stop(1_000);
    await connector.stop();
  });
  return dispatcher;
}

async function target(port: number, respond: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const server = await startRecordingServer(respond, { port });
  cleanups.push(() => server.close());
  return server;
}

const records = (): Promise<DeliveryRecord[]> => store.list({ limit: 1_000 });
const health = async () => (await store.connectorHealth()).find((row) => row.connector === 'crm');

/** Moves the injected clock by `stepMs` on each look, until `probe` holds. */
function advanceUntil<T>(stepMs: number, probe: () => Promise<T | undefined | false>, what: string): Promise<T> {
  return waitFor(async () => {
    const found = await probe();
    if (found === undefined || found === false) clock += stepMs;
    return found;
  }, { what, timeoutMs: 20_000, intervalMs: 15 });
}

/** The delivered event ids in the order the target took them (POSTs only: a probe may HEAD the origin). */
function deliveredOrder(server: RecordingServer): string[] {
  return server.requests.filter((request) => request.method === 'POST').map((request) => (JSON.parse(request.body) as { id: string }).id);
}

/** Each call's events reached the target in the order they were accepted, each exactly once. */
function expectPerCallOrder(order: readonly string[], ids: readonly string[]): void {
  expect([...order].sort()).toEqual([...ids].sort());
  const callOf = (id: string) => id.split('-')[1];
  for (const call of new Set(ids.map(callOf))) {
    expect(order.filter((id) => callOf(id) === call)).toEqual(ids.filter((id) => callOf(id) === call));
  }
}

describe('an http target that goes away and comes back', () => {
  it('refused: down at once, nothing spent; answering 503: still down; back: up and every waiting delivery goes, in per-call order', async () => {
    const port = await freePort();
    const ids = await accept(3, 2);
    start(httpTo(port));
    expect(await waitFor(async () => (await health())?.state === 'down' && health(), { what: 'the connector down' })).toMatchObject({ since: T0 });
    // Probes run while the clock moves; the refused trial sends spend nothing.
    for (let step = 0; step < 10; step++) {
      clock += 1_000;
      await sleep(20);
    }
    expect((await records()).map((row) => [row.status, row.attempts])).toEqual(ids.map(() => ['pending', 0]));
    // The admin API's view (GET /admin/connectors answers this), and one warn with the reason.
    const { connectors } = await createOperations({ store, connectors: new Set(['crm']), now: () => clock }).connectors();
    expect(connectors).toMatchObject([{ name: 'crm', paused: false, health: 'down', healthSince: new Date(T0).toISOString(), healthReason: expect.stringMatching(/ECONNREFUSED|failed/), pending: 6 }]);
    const warned = logged.filter((line) => line.msg.startsWith('connector down'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, connector: 'crm', reason: expect.stringMatching(/failed/) });

    const server = await target(port, () => ({ status: 503, body: 'maintenance' }));
    await advanceUntil(1_000, async () => server.requests.length >= 3, 'the target to see probes or trial sends');
    expect((await health())?.state).toBe('down');
    const during = await records();
    expect(during.filter((row) => row.status !== 'pending')).toEqual([]);
    // A 5xx spends an attempt only until the run of them calls the connector down: never more than two in all.
    expect(during.reduce((sum, row) => sum + row.attempts, 0)).toBeLessThanOrEqual(2);

    const refused = deliveredOrder(server).length;
    server.respondWith(() => ({ status: 200 }));
    const back = clock;
    await advanceUntil(50, async () => (await records()).every((row) => row.status === 'delivered'), 'every waiting delivery delivered');
    expect(clock - back).toBeLessThanOrEqual(2_000);
    expect(await health()).toMatchObject({ state: 'up', reason: null });
    expectPerCallOrder(deliveredOrder(server).slice(refused), ids);
    const up = logged.filter((line) => line.msg.startsWith('connector up again'));
    expect(up.at(-1)).toMatchObject({ level: 30, connector: 'crm', downForMs: expect.any(Number) });
    expect(up.at(-1)!.downForMs).toBeGreaterThan(10_000);
  });

  it('a 422 is dead-lettered on its own schedule while the connector stays up', async () => {
    const port = await freePort();
    const server = await target(port, (request) => (request.body.includes('"evt-1-1"') ? { status: 422, body: '{"error":"unknown contact"}' } : { status: 200 }));
    await accept(3, 1);
    start(httpTo(port));
    const rows = await waitFor(async () => {
      const found = await records();
      return found.every((row) => row.status !== 'pending') && found;
    }, { what: 'every delivery settled' });
    expect(Object.fromEntries(rows.map((row) => [row.eventId, [row.status, row.attempts]]))).toEqual({
      'evt-1-1': ['dead', 1],
      'evt-2-1': ['delivered', 1],
      'evt-3-1': ['delivered', 1],
    });
    expect(await health()).toBeUndefined();
    expect(deliveredOrder(server)).toHaveLength(3);
  });

  it('a 429 with Retry-After holds the whole connector for that long, spending no attempt', async () => {
    const port = await freePort();
    const server = await target(port, (_request, index) => (index === 0 ? { status: 429, headers: { 'retry-after': '120' } } : { status: 200 }));
    // One call: its second event waits behind the first, so one request is in flight when the 429 comes.
    const ids = await accept(1, 2);
    start(httpTo(port), HEALTH);
    expect(await waitFor(async () => (await health())?.state === 'held' && health(), { what: 'the connector held' })).toMatchObject({ since: T0, until: T0 + 120_000 });
    clock += 60_000;
    await sleep(200);
    expect(server.requests).toHaveLength(1);
    expect((await records()).map((row) => [row.status, row.attempts])).toEqual([['pending', 0], ['pending', 0]]);
    clock += 60_001;
    await waitFor(async () => (await records()).every((row) => row.status === 'delivered'), { what: 'delivered after the hold' });
    expect((await records()).map((row) => row.attempts)).toEqual([1, 1]);
    expectPerCallOrder(deliveredOrder(server).slice(1), ids);
  });

  it('two hours down on the injected clock: nothing dead past max_age, nothing waits past the target\'s return', async () => {
    const port = await freePort();
    const ids = await accept(5, 4);
    start(httpTo(port));
    await waitFor(async () => (await health())?.state === 'down', { what: 'the connector down' });
    for (let minute = 0; minute < 120; minute++) {
      clock += MINUTE;
      await sleep(15);
    }
    const waiting = await records();
    expect(waiting.map((row) => [row.status, row.attempts])).toEqual(ids.map(() => ['pending', 0]));
    expect(await store.deadStats()).toEqual([]);

    const server = await target(port, () => ({ status: 200 }));
    const back = clock;
    await advanceUntil(50, async () => (await records()).every((row) => row.status === 'delivered'), 'every waiting delivery delivered');
    expect(clock - back).toBeLessThanOrEqual(2_000);
    expect(await store.deadStats()).toEqual([]);
    expectPerCallOrder(deliveredOrder(server), ids);
    expect((await records()).map((row) => row.attempts)).toEqual(ids.map(() => 1));
  });
});

describe('a Slack stand-in answering service_unavailable', () => {
  it('takes the connector down with nothing spent, and up again once Slack answers', async () => {
    const slack = await startFakeSlack();
    cleanups.push(() => slack.close());
    slack.failWith(() => ({ kind: 'error', error: 'service_unavailable' }));
    const options = slackSchema.parse({ type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: 0 });
    const connector = slackConnector.create('crm', options, { logger: pino({ level: 'silent' }), fetch: globalThis.fetch, now: () => clock });
    await accept(2, 1, 'call.missed');
    start(connector);
    expect(await waitFor(async () => (await health())?.state === 'down' && health(), { what: 'the connector down' })).toMatchObject({ reason: expect.stringContaining('service_unavailable') });
    await advanceUntil(1_000, async () => slack.posts().length >= 4, 'probes or trial posts to reach the stand-in');
    expect((await records()).map((row) => [row.status, row.attempts])).toEqual([['pending', 0], ['pending', 0]]);

    slack.failWith(() => undefined);
    await advanceUntil(50, async () => (await records()).every((row) => row.status === 'delivered'), 'both alerts posted');
    expect((await records()).map((row) => row.attempts)).toEqual([1, 1]);
    expect(slack.messages).toHaveLength(2);
    expect(await health()).toMatchObject({ state: 'up' });
  });
});

describe('metrics', () => {
  it('say per connector whether it is up, and how long it has been down, from the store', async () => {
    const metrics = createMetrics({ store: () => store, connectors: ['crm', 'file'], defaults: false });
    const since = Date.now() - 90_000;
    expect(await store.recordHealth({ connector: 'crm', state: 'down', since, reason: 'connect ECONNREFUSED', until: since + 1_000, flaps: 0, version: 1 }, since)).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^audian_bridge_connector_up\{connector="crm"\} 0$/m);
    expect(text).toMatch(/^audian_bridge_connector_up\{connector="file"\} 1$/m);
    const downFor = Number(/^audian_bridge_connector_down_seconds\{connector="crm"\} ([0-9.]+)$/m.exec(text)?.[1]);
    expect(downFor).toBeGreaterThanOrEqual(90);
    expect(text).toMatch(/^audian_bridge_connector_down_seconds\{connector="file"\} 0$/m);
  });
});

describe('a flapping target', () => {
  it('is probed less and less often: it does not thrash, and spends no attempt', async () => {
    let probes = 0;
    // Answers every probe and refuses every send: up and down again, over and over.
    const flapping: Connector = {
      name: 'crm',
      async start() {},
      async send(batch) {
        return batch.map(() => retriable('connect ECONNREFUSED', undefined, 'unreachable'));
      },
      async probe() {
        probes += 1;
        return { ok: true };
      },
      async stop() {},
    };
    await accept(2, 1);
    start(flapping, { probeIntervalMs: 20, maxProbeIntervalMs: 400, flapWindowMs: MINUTE }, Date.now);
    await sleep(1_500);
    // Without the growing interval it would be ~75 probes in 1.5 s; with it: 20, 40, 80, 160, 320, 400, ... ms apart (±20%).
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(probes).toBeLessThanOrEqual(10);
    expect((await health())?.flaps).toBeGreaterThanOrEqual(3);
    expect((await records()).map((row) => row.attempts)).toEqual([0, 0]);
  });
});
