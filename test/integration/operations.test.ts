import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../connectors/http/index.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { baseConfig, postWebhook, readEvents } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordedRequest, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Operating deliveries against the bridge as a process: the admin API, the
 * operator commands on the local file and through the API, replay, pause
 * across a restart, and the metrics after a known sequence of requests.
 */

const TOKEN = 'admin-token-for-tests-0123456789';
const POLL_MS = 100;
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-ops-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let crm: RecordingServer;
let running: ChildBridge[] = [];
beforeAll(async () => {
  crm = await startRecordingServer();
});
afterAll(async () => {
  await crm.close();
});
afterEach(async () => {
  for (const bridge of running) await stopChildBridge(bridge);
  running = [];
  crm.respondWith(() => ({ status: 200 }));
  crm.requests.length = 0;
  answered.clear();
});

interface Setup {
  readonly dir: string;
  readonly configPath: string;
}

/** A config in a fresh directory: every event to the file connector `events`, call events also to the http connector `crm`. */
function setup(name: string, overrides: Record<string, unknown> = {}): Setup {
  const dir = join(root, name);
  const config = baseConfig(dir, {
    dispatch: { retry_schedule: ['50ms'], poll_interval: `${POLL_MS}ms` },
    admin: { port: 0, token: '${TEST_ADMIN_TOKEN}' },
    connectors: {
      events: { type: 'file', path: join(dir, 'events.jsonl') },
      // Two tries, then dead: an outage is over in milliseconds here.
      crm: { type: 'http', url: `${crm.url}/calls/{subject}`, dispatch: { max_attempts: 2 } },
      idle: { type: 'file', path: join(dir, 'idle.jsonl') },
    },
    routes: [
      { name: 'all', to: 'events' },
      { name: 'crm', match: { type: 'call.*' }, to: 'crm' },
    ],
    ...overrides,
  });
  const configPath = join(root, `${name}.yaml`);
  writeFileSync(configPath, YAML.stringify(config));
  return { dir, configPath };
}

/** An operator command on the local file, with the environment the config names. */
const localCli = (at: Setup, ...args: string[]) => runCli([...args, '--config', at.configPath], { env: { TEST_ADMIN_TOKEN: TOKEN } });

async function start(at: Setup): Promise<ChildBridge> {
  const bridge = await startChildBridge(at.configPath, { env: { TEST_ADMIN_TOKEN: TOKEN } });
  running.push(bridge);
  if (!bridge.adminUrl) throw new Error(`no admin API:\n${bridge.output()}`);
  return bridge;
}

async function admin(bridge: ChildBridge, method: 'GET' | 'POST', path: string, body?: unknown, token = TOKEN) {
  const response = await fetch(`${bridge.adminUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, body: (type.includes('json') ? JSON.parse(text) : text) as Record<string, any>, text };
}

const initiated = (callId: string) => audianV2Calls.initiated(callId, { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());

/** The Idempotency-Key the CRM gets for a `call.initiated` event by the `crm` route (its n-th resend's when `replay` is given). */
const keyOf = (eventId: string, replay = 0) => idempotencyKey({ source: 'audian/main', type: 'call.initiated', id: eventId }, 'crm', 'crm', replay);
/** The connector's deliveries at the CRM: its health probe (a bodiless HEAD, docs/delivery.md#connector-health) comes there too. */
const isDelivery = (request: RecordedRequest) => request.method !== 'HEAD';
const crmDeliveries = () => crm.requests.filter(isDelivery);
/** CRM deliveries for one event id (the canonical event is the body), replays included. */
const crmRequestsFor = (eventId: string) => crmDeliveries().filter((request) => (JSON.parse(request.body) as { id: string }).id === eventId);
const okKeys = () => crm.requests.filter((request, index) => isDelivery(request) && answered.get(index) === 200).map((request) => request.headers['idempotency-key']);
const answered = new Map<number, number>();
/**
 * The CRM answers `status()`. An outage here is a 408: a retriable failure of each delivery, spending its
 * attempts; 5xx across calls would take the connector down instead, and nothing would go dead
 * (docs/delivery.md#connector-health).
 */
function crmAnswers(status: () => number): void {
  crm.respondWith((_request, index) => {
    const code = status();
    answered.set(index, code);
    return { status: code };
  });
}

/** Absence cannot be polled for: several poll intervals in which the bridge could do what it must not. */
const quietPeriod = () => new Promise((resolve) => setTimeout(resolve, POLL_MS * 6));

async function deadDeliveryOf(bridge: ChildBridge, eventId: string): Promise<Record<string, any>> {
  return waitFor(async () => {
    const { body } = await admin(bridge, 'GET', `/admin/deliveries?status=dead&connector=crm&event=${eventId}`);
    return (body.deliveries as Record<string, any>[])[0];
  }, { what: `a dead crm delivery of ${eventId}` });
}

describe('admin API', () => {
  it('answers 401 UNAUTHORIZED on every endpoint without the token or with a wrong one', async () => {
    const bridge = await start(setup('auth'));
    const endpoints: ['GET' | 'POST', string][] = [
      ['GET', '/admin/deliveries'],
      ['GET', '/admin/deliveries/1'],
      ['POST', '/admin/deliveries/replay'],
      ['GET', '/admin/events/evt_x'],
      ['POST', '/admin/connectors/crm/pause'],
      ['POST', '/admin/connectors/crm/resume'],
      ['POST', '/admin/reload'],
      ['GET', '/metrics'],
    ];
    for (const [method, path] of endpoints) {
      for (const token of ['', 'wrong-token-wrong-token-wrong-00', `${TOKEN}x`]) {
        const answer = await admin(bridge, method, path, method === 'POST' ? { ids: [1] } : undefined, token);
        expect([path, token, answer.status, answer.body.error?.code]).toEqual([path, token, 401, 'UNAUTHORIZED']);
      }
    }
    // Nothing was paused by the refused requests.
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/resume')).body).toEqual({ connector: 'crm', paused: false, changed: false });
  });

  it('serves every endpoint: dead after an outage, replayed once, resent by id with a new key, traced, paused and resumed', async () => {
    const bridge = await start(setup('endpoints'));
    let crmUp = false;
    crmAnswers(() => (crmUp ? 200 : 408));

    expect((await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-admin'))).status).toBe(200);
    const dead = await deadDeliveryOf(bridge, 'evt_c-admin_initiated');
    expect(dead).toMatchObject({ connector: 'crm', route: 'crm', callId: 'c-admin', attempts: 2, nextAttemptAt: null });
    expect(dead.lastError).toMatch(/408/);
    const detail = await admin(bridge, 'GET', `/admin/deliveries/${dead.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.attempts.map((attempt: { outcome: string }) => attempt.outcome)).toEqual(['retry', 'dead']);
    for (const attempt of detail.body.attempts) {
      expect(new Date(attempt.at).toISOString()).toBe(attempt.at);
      expect(typeof attempt.duration_ms).toBe('number');
    }

    // The outage is over: a replay by filter sends it once.
    crmUp = true;
    expect((await admin(bridge, 'POST', '/admin/deliveries/replay', { status: 'dead', connector: 'crm' })).body).toMatchObject({ queued: 1, ids: [dead.id] });
    await waitFor(() => okKeys().includes(keyOf('evt_c-admin_initiated')), { what: 'the replayed delivery at the CRM' });
    await quietPeriod();
    expect(okKeys().filter((key) => key === keyOf('evt_c-admin_initiated'))).toHaveLength(1);

    // The CRM lost it: named by id, a delivered delivery is sent again, with a key the CRM has not seen.
    const resend = await admin(bridge, 'POST', '/admin/deliveries/replay', { ids: [dead.id, 999_999] });
    expect(resend.body).toEqual({ queued: 1, ids: [dead.id], skipped: [{ id: 999_999, reason: 'not_found' }] });
    await waitFor(() => okKeys().includes(keyOf('evt_c-admin_initiated', 1)), { what: 'the resend with a new idempotency key' });
    expect(crmRequestsFor('evt_c-admin_initiated').map((request) => request.url)).toEqual(Array(4).fill('/calls/c-admin'));

    // The CRM has the request before the bridge records its answer: wait for the record.
    const trace = await waitFor(async () => {
      const answer = await admin(bridge, 'GET', '/admin/events/evt_c-admin_initiated');
      const crmDelivery = answer.body.deliveries?.find((delivery: Record<string, unknown>) => delivery.connector === 'crm');
      return crmDelivery?.status === 'delivered' ? answer : undefined;
    }, { what: 'the resend recorded as delivered' });
    expect(trace.status).toBe(200);
    expect(trace.body.event).toMatchObject({ id: 'evt_c-admin_initiated', type: 'call.initiated', subject: 'c-admin' });
    expect(trace.body.call).toMatchObject({ callId: 'c-admin', direction: 'inbound' });
    expect(trace.body.deliveries.map((delivery: Record<string, unknown>) => [delivery.connector, delivery.status, delivery.replay])).toEqual([
      ['events', 'delivered', 0],
      ['crm', 'delivered', 1],
    ]);

    // Paused: nothing is sent to the CRM; the other connectors go on.
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/pause')).body).toEqual({ connector: 'crm', paused: true, changed: true });
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/pause')).body).toMatchObject({ changed: false });
    const before = crmDeliveries().length;
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-paused'));
    await waitFor(() => readEvents(join(root, 'endpoints', 'events.jsonl')).some((event) => event.subject === 'c-paused'), { what: 'the file connector' });
    await quietPeriod();
    expect(crmDeliveries().length).toBe(before);
    const waiting = await admin(bridge, 'GET', '/admin/deliveries?connector=crm&status=pending');
    expect(waiting.body.deliveries.map((delivery: Record<string, unknown>) => delivery.eventId)).toEqual(['evt_c-paused_initiated']);
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/resume')).body).toEqual({ connector: 'crm', paused: false, changed: true });
    await waitFor(() => okKeys().includes(keyOf('evt_c-paused_initiated')), { what: 'the paused delivery after resume' });

    // Lists page with a cursor.
    const page = await admin(bridge, 'GET', '/admin/deliveries?limit=1');
    expect(page.body.deliveries).toHaveLength(1);
    const next = await admin(bridge, 'GET', `/admin/deliveries?limit=1&cursor=${page.body.cursor}`);
    expect(next.body.deliveries[0].id).toBeLessThan(page.body.deliveries[0].id);

    // Errors come from the same table as on the webhook port.
    const errors = [
      await admin(bridge, 'GET', '/admin/deliveries?status=lost'),
      await admin(bridge, 'GET', '/admin/deliveries?color=red'),
      await admin(bridge, 'GET', '/admin/deliveries/abc'),
      await admin(bridge, 'GET', '/admin/deliveries/999999'),
      await admin(bridge, 'GET', '/admin/events/nothing-like-it'),
      await admin(bridge, 'POST', '/admin/deliveries/replay', {}),
      await admin(bridge, 'POST', '/admin/deliveries/replay', { status: 'delivered' }),
      await admin(bridge, 'POST', '/admin/connectors/nobody/pause'),
      await admin(bridge, 'GET', '/admin/nothing'),
    ];
    expect(errors.map((answer) => [answer.status, answer.body.error?.code])).toEqual([
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
      [400, 'INVALID_REQUEST'],
      [400, 'INVALID_REQUEST'],
      [404, 'NOT_FOUND'],
      [404, 'NOT_FOUND'],
    ]);
    // The reload slot is live: the same file again changes nothing and keeps every connector running.
    const reload = await admin(bridge, 'POST', '/admin/reload');
    expect([reload.status, reload.body.reloaded, reload.body.connectors?.kept]).toEqual([200, true, ['events', 'crm', 'idle']]);
    const metrics = await admin(bridge, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('audian_bridge_outbox_dead{connector="crm"} 0');
  });
});

describe('dead letters', () => {
  it('outlive pruning past dedupe_ttl, with their events, and are still replayable', async () => {
    const at = setup('prune', { store: { path: join(root, 'prune', 'bridge.db'), dedupe_ttl: '1s', prune_interval: '200ms' } });
    const bridge = await start(at);
    crmAnswers(() => 408);
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-kept'));
    const dead = await deadDeliveryOf(bridge, 'evt_c-kept_initiated');
    await postWebhook(`${bridge.url}/webhooks/audian`, { id: 'evt_prunable', event: 'made.up_type', timestamp: new Date().toISOString(), data: {} });
    await waitFor(() => readEvents(join(at.dir, 'events.jsonl')).length === 2, { what: 'both events in the file' });
    // The pruner forgets the delivered event once dedupe_ttl is over ...
    await waitFor(async () => (await admin(bridge, 'GET', '/admin/events/evt_prunable')).status === 404, { what: 'the delivered event pruned', timeoutMs: 15_000 });
    // ... but keeps the dead letter and its event.
    const kept = await admin(bridge, 'GET', '/admin/events/evt_c-kept_initiated');
    expect(kept.body.deliveries.map((delivery: Record<string, unknown>) => [delivery.connector, delivery.status])).toEqual([['events', 'delivered'], ['crm', 'dead']]);
    crmAnswers(() => 200);
    expect((await admin(bridge, 'POST', '/admin/deliveries/replay', { ids: [dead.id] })).body).toMatchObject({ queued: 1 });
    await waitFor(() => okKeys().includes(keyOf('evt_c-kept_initiated')), { what: 'the replayed dead letter at the CRM' });
  });
});

describe('operator commands', () => {
  it('replay after an outage on the local file and through the admin API: each arrives once; purge removes dead ones', async () => {
    const at = setup('cli');
    const bridge = await start(at);
    let crmUp = false;
    crmAnswers(() => (crmUp ? 200 : 408));
    const local = (...args: string[]) => localCli(at, ...args);
    const remote = (...args: string[]) => runCli([...args, '--admin', bridge.adminUrl as string], { env: { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN } });

    for (const call of ['c-local', 'c-remote', 'c-purge']) await postWebhook(`${bridge.url}/webhooks/audian`, initiated(call));
    for (const call of ['c-local', 'c-remote', 'c-purge']) await deadDeliveryOf(bridge, `evt_${call}_initiated`);
    crmUp = true;

    const listed = await local('deliveries', '--status', 'dead', '--connector', 'crm', '--call', 'c-local');
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toMatchObject([{ eventId: 'evt_c-local_initiated', status: 'dead', callId: 'c-local' }]);
    expect(new Date(rows[0]!.updatedAt as string).toISOString()).toBe(rows[0]!.updatedAt);

    // On the local file: the running bridge picks it up within poll_interval.
    const replayed = await local('replay', String(rows[0]!.id), '999999');
    expect(replayed.stdout).toContain('1 of 2 deliveries queued again');
    expect(replayed.stdout).toContain('skipped 999999: no such delivery');
    expect(replayed.code).toBe(1);
    await waitFor(() => okKeys().includes(keyOf('evt_c-local_initiated')), { what: 'the locally replayed delivery' });

    // Through the admin API, by filter.
    const viaApi = await remote('retry', '--status', 'dead', '--connector', 'crm', '--route', 'crm');
    expect(viaApi.code).toBe(0);
    expect(viaApi.stdout).toContain('2 dead deliveries queued again');
    await waitFor(() => okKeys().includes(keyOf('evt_c-remote_initiated')) && okKeys().includes(keyOf('evt_c-purge_initiated')), { what: 'the remotely replayed deliveries' });
    await quietPeriod();
    for (const call of ['c-local', 'c-remote']) expect(okKeys().filter((key) => key === keyOf(`evt_${call}_initiated`)), call).toHaveLength(1);

    const shown = await remote('deliveries', 'show', String(rows[0]!.id));
    expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'delivered', attempts: [{ outcome: 'retry' }, { outcome: 'dead' }, { outcome: 'delivered' }] });
    const traced = await remote('events', 'show', 'evt_c-local_initiated');
    expect(JSON.parse(traced.stdout)).toMatchObject({ event: { id: 'evt_c-local_initiated' }, call: { callId: 'c-local' } });

    // A dead letter made on purpose, then purged; the purge is local only.
    crmUp = false;
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-dead'));
    await deadDeliveryOf(bridge, 'evt_c-dead_initiated');
    const refused = await remote('deliveries', 'purge', '--status', 'dead', '--before', '0s');
    expect(refused.code).toBe(1);
    const purged = await local('deliveries', 'purge', '--status', 'dead', '--before', '0s');
    expect(purged.stdout).toMatch(/^purged 1 dead deliveries last changed before \d{4}-\d{2}-\d{2}T/);
    expect((await admin(bridge, 'GET', '/admin/deliveries?status=dead')).body.deliveries).toEqual([]);

    const wrongToken = await runCli(['deliveries', '--admin', bridge.adminUrl as string], { env: { AUDIAN_BRIDGE_ADMIN_TOKEN: 'nope' } });
    expect([wrongToken.code, wrongToken.stderr]).toEqual([1, expect.stringContaining('UNAUTHORIZED')]);
    expect((await local('deliveries', '--since', 'yesterday')).code).toBe(64);
  });

  it('a missing database is an error, never a new file', async () => {
    const at = setup('missing');
    const result = await localCli(at, 'deliveries');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no database at');
    expect((await localCli(at, 'pause', 'crm')).code).toBe(1);
    expect(existsSync(join(at.dir, 'bridge.db'))).toBe(false);
  });

  it('pause on the local file: no attempts while paused, across a restart; resume delivers all, once', async () => {
    const at = setup('pause');
    const events = join(at.dir, 'events.jsonl');
    let bridge = await start(at);
    expect((await localCli(at, 'pause', 'crm')).stdout).toContain('paused crm');
    expect((await localCli(at, 'pause', 'crm')).stdout).toContain('crm was paused already');
    expect((await localCli(at, 'pause', 'nobody')).code).toBe(1);

    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-p1'));
    await waitFor(() => readEvents(events).length === 1, { what: 'the file connector' });
    await quietPeriod();
    expect(crmDeliveries()).toEqual([]);

    await stopChildBridge(bridge);
    bridge = await start(at);
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-p2'));
    await waitFor(() => readEvents(events).length === 2, { what: 'the file connector after the restart' });
    await quietPeriod();
    expect(crmDeliveries()).toEqual([]);
    const metrics = await admin(bridge, 'GET', '/metrics');
    expect(metrics.text).toContain('audian_bridge_connector_paused{connector="crm"} 1');
    expect(metrics.text).toContain('audian_bridge_outbox_pending{connector="crm"} 2');

    expect((await localCli(at, 'resume', 'crm')).stdout).toContain('resumed crm');
    await waitFor(() => crmDeliveries().length === 2, { what: 'both deliveries after resume' });
    await quietPeriod();
    expect(crmDeliveries().map((request) => request.headers['idempotency-key']).sort()).toEqual([keyOf('evt_c-p1_initiated'), keyOf('evt_c-p2_initiated')].sort());
  });
});

/** `name{labels} value` lines of the exposition text, as name -> (labels -> value). */
function parseExposition(text: string): Map<string, Map<string, number>> {
  const metrics = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const [, name, labels = '{}', value] = match;
    if (!metrics.has(name!)) metrics.set(name!, new Map());
    metrics.get(name!)!.set(labels, Number(value));
  }
  return metrics;
}

describe('metrics and logs', () => {
  it('change as expected after a known sequence of requests; server.metrics: false keeps them off the webhook port', async () => {
    const at = setup('metrics', { server: { host: '127.0.0.1', port: 0, metrics: false } });
    const bridge = await start(at);
    const post = (body: unknown, options = {}) => postWebhook(`${bridge.url}/webhooks/audian`, body, options);
    const ringing = initiated('c-metrics');
    expect((await post(ringing)).status).toBe(200);
    expect((await post(ringing)).body.duplicate).toBe(true);
    expect((await post(audianV2Calls.ended('c-metrics', 'no_answer', Date.now()))).status).toBe(200);
    expect((await post({ id: 'evt_odd', event: 'made.up_type', timestamp: new Date().toISOString(), data: {} })).status).toBe(200);
    expect((await post(ringing, { secret: 'not-the-secret' })).status).toBe(401);
    // initiated, failed, the derived call.missed and call.summary, made.up: five events in the file.
    await waitFor(() => readEvents(join(at.dir, 'events.jsonl')).length === 5, { what: 'five events delivered, call.missed and call.summary included' });
    await waitFor(() => crmDeliveries().length === 4, { what: 'four call events at the CRM' });

    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(404);
    const metrics = await waitFor(async () => {
      const scraped = parseExposition((await admin(bridge, 'GET', '/metrics')).text);
      // The counter moves once the send returns, a moment after the file has the line.
      const delivered = scraped.get('audian_bridge_deliveries_total');
      return delivered?.get('{connector="crm",outcome="delivered"}') === 4 && delivered.get('{connector="events",outcome="delivered"}') === 5 && scraped;
    }, { what: 'delivery counts settled' });
    const value = (name: string, labels = '{}') => metrics.get(name)?.get(labels);

    expect(value('audian_bridge_webhooks_total', '{source="main",outcome="accepted"}')).toBe(3);
    expect(value('audian_bridge_webhooks_total', '{source="main",outcome="duplicate"}')).toBe(1);
    expect(value('audian_bridge_webhooks_total', '{source="main",outcome="SIGNATURE_MISMATCH"}')).toBe(1);
    expect(value('audian_bridge_events_total', '{source="main",dialect="audian.v2",type="call.initiated"}')).toBe(1);
    expect(value('audian_bridge_events_total', '{source="main",dialect="audian.v2",type="call.failed"}')).toBe(1);
    expect(value('audian_bridge_events_total', '{source="main",dialect="audian.v2",type="call.missed"}')).toBe(1);
    expect(value('audian_bridge_events_total', '{source="main",dialect="audian.v2",type="call.summary"}')).toBe(1);
    expect(value('audian_bridge_events_total', '{source="main",dialect="audian.v2",type="other"}')).toBe(1);
    expect([...metrics.get('audian_bridge_events_total')!.keys()].some((labels) => labels.includes('made.up'))).toBe(false);
    expect(value('audian_bridge_deliveries_total', '{connector="events",outcome="delivered"}')).toBe(5);
    for (const connector of ['events', 'crm', 'idle']) {
      expect(value('audian_bridge_outbox_pending', `{connector="${connector}"}`), connector).toBe(0);
      expect(value('audian_bridge_outbox_dead', `{connector="${connector}"}`), connector).toBe(0);
      expect(value('audian_bridge_outbox_oldest_pending_seconds', `{connector="${connector}"}`), connector).toBe(0);
      expect(value('audian_bridge_connector_paused', `{connector="${connector}"}`), connector).toBe(0);
    }
    expect(value('audian_bridge_build_info', `{version="0.1.0",node="${process.version}"}`)).toBe(1);
    expect(value('audian_bridge_store_size_bytes')).toBeGreaterThan(0);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metrics.has('audian_bridge_process_cpu_seconds_total')).toBe(false);
    expect(metrics.has('nodejs_heap_size_used_bytes')).toBe(true);

    const logs = bridge.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const accepted = logs.filter((entry) => entry.msg === 'webhook accepted');
    expect(accepted.map((entry) => [entry.level, entry.eventId, entry.type, entry.source, entry.callId])).toEqual([
      [30, 'evt_c-metrics_initiated', 'call.initiated', 'main', 'c-metrics'],
      [30, expect.stringContaining('c-metrics'), 'call.failed', 'main', 'c-metrics'],
      [30, 'evt_odd', 'made.up_type', 'main', undefined],
    ]);
    const outcomes = logs.filter((entry) => entry.msg === 'delivered' && entry.connector === 'crm');
    expect(outcomes).toHaveLength(4);
    expect(outcomes[0]).toMatchObject({ level: 30, callId: 'c-metrics', source: 'audian/main', type: 'call.initiated', route: 'crm' });
  });
});
