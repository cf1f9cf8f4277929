import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite/driver.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { baseConfig, postWebhook } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The operators' audit and bulk replay through the admin API, against the
 * bridge as a process and a local HTTP target: the count first, then
 * exactly the set it counted; every action recorded with where it came from.
 */

const TOKEN = 'admin-token-for-audit-0123456789';
const POLL_MS = 100;
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-audit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let crm: RecordingServer;
let crmUp = false;
let running: ChildBridge | undefined;
beforeAll(async () => {
  crm = await startRecordingServer();
  // 408: a failure of each delivery (a 5xx across calls would take the connector down instead, src/dispatch/).
  crm.respondWith(() => ({ status: crmUp ? 200 : 408 }));
});
afterAll(async () => {
  await crm.close();
});
afterEach(async () => {
  if (running) await stopChildBridge(running);
  running = undefined;
  crmUp = false;
  crm.requests.length = 0;
});

function setup(name: string): string {
  const dir = join(root, name);
  const config = baseConfig(dir, {
    dispatch: { retry_schedule: ['50ms'], poll_interval: `${POLL_MS}ms` },
    admin: { port: 0, token: '${TEST_ADMIN_TOKEN}' },
    connectors: {
      events: { type: 'file', path: join(dir, 'events.jsonl') },
      // Two tries, then dead: an outage is over in milliseconds here.
      crm: { type: 'http', url: `${crm.url}/calls/{subject}`, dispatch: { max_attempts: 2 } },
    },
    routes: [
      { name: 'all', to: 'events' },
      { name: 'crm', match: { type: 'call.*' }, to: 'crm' },
    ],
  });
  const configPath = join(root, `${name}.yaml`);
  writeFileSync(configPath, YAML.stringify(config));
  return configPath;
}

async function start(configPath: string): Promise<ChildBridge> {
  running = await startChildBridge(configPath, { env: { TEST_ADMIN_TOKEN: TOKEN }, timeoutMs: 60_000 });
  if (!running.adminUrl) throw new Error(`no admin API:\n${running.output()}`);
  return running;
}

async function admin(bridge: ChildBridge, method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await fetch(`${bridge.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const initiated = (callId: string) => audianV2Calls.initiated(callId, { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());
const crmGot = (callId: string) => crm.requests.filter((request) => request.url === `/calls/${callId}`).length;
/** Absence cannot be polled for: several poll intervals in which the bridge could do what it must not. */
const quietPeriod = () => new Promise((resolve) => setTimeout(resolve, POLL_MS * 6));

async function crmDelivery(bridge: ChildBridge, callId: string, status: string): Promise<Record<string, any>> {
  return waitFor(async () => {
    const { body } = await admin(bridge, 'GET', `/admin/deliveries?connector=crm&call=${callId}`);
    const found = (body.deliveries as Record<string, any>[])[0];
    return found?.status === status ? found : undefined;
  }, { what: `the crm delivery of ${callId} ${status}` });
}

describe('bulk replay through the admin API', () => {
  it('counts first, then replays exactly that set: a dead letter after the count stays, one that changed is skipped with the reason', async () => {
    const bridge = await start(setup('bulk'));
    for (const call of ['b1', 'b2', 'b3']) await postWebhook(`${bridge.url}/webhooks/audian`, initiated(call));
    const [d1, d2, d3] = [await crmDelivery(bridge, 'b1', 'dead'), await crmDelivery(bridge, 'b2', 'dead'), await crmDelivery(bridge, 'b3', 'dead')];

    const counted = await admin(bridge, 'GET', '/admin/deliveries/count?status=dead&connector=crm&type=call.initiated&since=1h');
    expect(counted.status).toBe(200);
    expect(counted.body).toMatchObject({
      matched: 3,
      byStatus: { dead: 3, pending: 0, delivered: 0, skipped: 0 },
      effect: { requeue: 3, resend: 0, leave: 0 },
      upTo: d3!.id,
      replay: { status: ['dead'], connector: 'crm', type: 'call.initiated', upTo: d3!.id },
    });
    // The count resolved "1h" to a time: the replay means the same window whenever it runs.
    expect(new Date(counted.body.replay.since).toISOString()).toBe(counted.body.replay.since);

    // Meanwhile a new dead letter arrives, and b1 is replayed on its own once the CRM is back.
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('b4'));
    const d4 = await crmDelivery(bridge, 'b4', 'dead');
    crmUp = true;
    expect((await admin(bridge, 'POST', '/admin/deliveries/replay', { ids: [d1!.id] })).body).toMatchObject({ queued: 1 });
    await crmDelivery(bridge, 'b1', 'delivered');

    const replayed = await admin(bridge, 'POST', '/admin/deliveries/replay', counted.body.replay);
    expect(replayed.status).toBe(200);
    expect(replayed.body).toEqual({ queued: 2, ids: [d2!.id, d3!.id], skipped: [{ id: d1!.id, reason: 'changed', status: 'delivered' }] });
    await crmDelivery(bridge, 'b2', 'delivered');
    await crmDelivery(bridge, 'b3', 'delivered');
    await quietPeriod();
    expect(crmGot('b4')).toBe(2);
    expect((await admin(bridge, 'GET', `/admin/deliveries/${d4.id}`)).body.status).toBe('dead');

    const audit = await admin(bridge, 'GET', '/admin/audit?limit=2');
    expect(audit.body.entries.map((entry: Record<string, any>) => [entry.action, entry.count, entry.actor.via, entry.actor.who])).toEqual([
      ['bulk_replay', 2, 'api', 'bearer token'],
      ['replay', 1, 'api', 'bearer token'],
    ]);
    expect(audit.body.entries[0].actor.address).toMatch(/127\.0\.0\.1/);
    expect(audit.body.entries[0].detail).toEqual({ queued: [d2!.id, d3!.id], skipped: 1, skippedIds: [d1!.id] });
  });

  it('refuses what it cannot replay exactly, with stable codes, and changes nothing', async () => {
    const bridge = await start(setup('bulk-refused'));
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('r1'));
    const dead = await crmDelivery(bridge, 'r1', 'dead');
    const refusals: [unknown, string][] = [
      [{ connector: 'crm', upTo: dead.id }, 'REPLAY_STATUS_REQUIRED'],
      [{ status: 'pending', upTo: dead.id }, 'REPLAY_STATUS_REQUIRED'],
      [{ status: 'dead', type: 'call.initiated' }, 'INVALID_REQUEST'],
      [{ status: 'dead', upTo: 'newest' }, 'INVALID_REQUEST'],
      [{ status: 'dead', upTo: dead.id, colour: 'red' }, 'INVALID_REQUEST'],
      [{ status: 'dead', upTo: dead.id, since: 'yesterday' }, 'INVALID_REQUEST'],
    ];
    for (const [body, code] of refusals) {
      const answer = await admin(bridge, 'POST', '/admin/deliveries/replay', body);
      expect([body, answer.status, answer.body.error?.code]).toEqual([body, 400, code]);
    }
    expect((await admin(bridge, 'GET', '/admin/deliveries/count?colour=red')).body.error.code).toBe('INVALID_REQUEST');
    expect((await admin(bridge, 'POST', '/admin/deliveries/count')).status).toBe(405);
    expect((await admin(bridge, 'GET', `/admin/deliveries/${dead.id}`)).body.status).toBe('dead');
    expect((await admin(bridge, 'GET', '/admin/audit')).body).toEqual({ entries: [] });
  });
});

describe('GET /admin/audit', () => {
  it('lists the actions of the API and the CLI on the store, newest first, in keyset pages', async () => {
    const configPath = setup('log');
    const bridge = await start(configPath);
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/pause')).body).toMatchObject({ changed: true });
    const resumed = await runCli(['resume', 'crm', '--config', configPath], { env: { TEST_ADMIN_TOKEN: TOKEN } });
    expect(resumed.code).toBe(0);
    expect((await admin(bridge, 'POST', '/admin/reload')).status).toBe(200);
    expect((await admin(bridge, 'POST', '/admin/connectors/crm/resume')).body).toMatchObject({ changed: false });

    const first = await admin(bridge, 'GET', '/admin/audit?limit=2');
    expect(first.body.cursor).toBeDefined();
    const rest = await admin(bridge, 'GET', `/admin/audit?limit=2&cursor=${first.body.cursor}`);
    const entries = [...first.body.entries, ...rest.body.entries] as Record<string, any>[];
    expect(entries.map((entry) => [entry.action, entry.target ?? null, entry.count, entry.actor.via])).toEqual([
      ['resume', 'crm', 0, 'api'],
      ['reload', null, 1, 'api'],
      ['resume', 'crm', 1, 'cli'],
      ['pause', 'crm', 1, 'api'],
    ]);
    expect(entries[2]!.actor.who).toMatch(/^.+@.+$/);
    expect(entries[2]!.actor.address).toBeUndefined();
    for (const entry of entries) expect(new Date(entry.at).toISOString()).toBe(entry.at);
    expect(entries.map((entry) => entry.id)).toEqual([...entries.map((entry) => entry.id)].sort((a, b) => b - a));
    expect((await admin(bridge, 'GET', '/admin/audit?limit=0')).body.error.code).toBe('INVALID_REQUEST');
  });
});

describe('an action whose audit row cannot be written', () => {
  it('does not happen: no console session, no pause, no replay, no reload', async () => {
    const configPath = setup('refused');
    const bridge = await start(configPath);
    await postWebhook(`${bridge.url}/webhooks/audian`, initiated('x1'));
    const dead = await crmDelivery(bridge, 'x1', 'dead');
    // As a full disk or a lost grant would: the database refuses every audit row from now on.
    const db = new Database(join(root, 'refused', 'bridge.db'));
    try {
      db.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END");
    } finally {
      db.close();
    }

    const signIn = await fetch(`${bridge.adminUrl}/ui/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ token: TOKEN }).toString(),
    });
    expect(signIn.status).toBeGreaterThanOrEqual(500);
    expect(signIn.headers.get('set-cookie')).toBeNull();
    for (const [path, body] of [['/admin/connectors/crm/pause', undefined], ['/admin/deliveries/replay', { ids: [dead.id] }], ['/admin/reload', undefined]] as const) {
      expect((await admin(bridge, 'POST', path, body)).status, path).toBeGreaterThanOrEqual(500);
    }
    const { connectors } = (await admin(bridge, 'GET', '/admin/connectors')).body as { connectors: { name: string; paused: boolean }[] };
    expect(connectors.find((connector) => connector.name === 'crm')?.paused).toBe(false);
    expect((await admin(bridge, 'GET', `/admin/deliveries/${dead.id}`)).body.status).toBe('dead');
    expect((await admin(bridge, 'GET', '/admin/audit')).body).toEqual({ entries: [] });
    expect(bridge.output()).not.toContain('config reloaded');
  });
});
