import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { idempotencyKey } from '../../connectors/http/index.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { baseConfig, postWebhook, startBridge, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { startProxyServer } from '../helpers/proxy.js';
import { waitFor } from '../helpers/wait.js';

/** The http connector as a CRM upsert: call.summary mapped to a call record, auth, stale guard, idempotency, proxy. */
const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLER = { direction: 'inbound' as const, from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199', tags: { campaign: 'spring' } };
const at = (ms: number) => new Date(T0 + ms).toISOString();

/** config.example.yaml's `crm` connector, pointed at `url`: the mapping docs/connectors/http.md recommends, tested as shipped. */
function exampleCrm(url: string): Record<string, unknown> {
  const text = readFileSync(fileURLToPath(new URL('../../config.example.yaml', import.meta.url)), 'utf8');
  const crm = (YAML.parse(text) as { connectors: Record<string, Record<string, unknown>> }).connectors.crm!;
  return { ...crm, url: `${url}/api/calls/{subject}`, auth: { bearer: '${CRM_TOKEN}' } };
}

let crm: RecordingServer;
let bridge: TestBridge;

beforeAll(async () => {
  crm = await startRecordingServer();
  bridge = await startBridge(
    (dir) =>
      baseConfig(dir, {
        lifecycle: { missed_call_grace: '200ms' },
        dispatch: { retry_initial: '50ms', retry_max: '2s', poll_interval: '100ms', max_attempts: 5 },
        connectors: {
          crm: exampleCrm(crm.url),
          guarded: { type: 'http', url: `${crm.url}/guarded/{subject}`, method: 'PUT', stale_guard: true },
          basic: { type: 'http', url: `${crm.url}/basic/{subject}`, auth: { basic: { username: '${CRM_USER}', password: '${CRM_PASSWORD}' } } },
          plain: { type: 'http', url: `${crm.url}/plain/{subject}` },
        },
        routes: [
          { name: 'records', match: { type: 'call.summary' }, to: 'crm' },
          { name: 'guarded', match: { type: ['call.initiated', 'call.answered', 'call.held'] }, when: "$contains(subject, 'guard')", to: 'guarded' },
          { name: 'basic', match: { type: 'ivr.*' }, to: 'basic' },
          // Two routes to one connector: each delivery has its own key.
          { name: 'plain-a', match: { type: 'recording.*' }, to: 'plain' },
          { name: 'plain-b', match: { type: 'recording.*' }, to: 'plain' },
        ],
      }),
    { CRM_TOKEN: 'crm-token-1', CRM_USER: 'bridge', CRM_PASSWORD: 'p@ss:word' },
  );
});
afterAll(async () => {
  await bridge.stop();
  await crm.close();
});
beforeEach(() => crm.respondWith(() => ({ status: 200 })));

async function post(body: Record<string, unknown>): Promise<void> {
  expect((await bridge.post(PATH, body)).status).toBe(200);
}
const under = (prefix: string) => crm.requests.filter((request) => request.url.startsWith(prefix));

describe('call.summary as a CRM call record (config.example.yaml)', () => {
  it('PUTs the mapped record, the call id one path segment, with the bearer token', async () => {
    const callId = 'crm/1?x=1#frag/..';
    await post(audianV2Calls.initiated(callId, CALLER, T0));
    await post(audianV2Calls.answered(callId, T0 + 6_000));
    await post(audianV2Calls.ended(callId, 'completed', T0 + 96_000));
    const [request] = await waitFor(() => under('/api/calls/').length > 0 && under('/api/calls/'), { what: 'the call record' });
    expect(request!.method).toBe('PUT');
    const segments = request!.url.split('/');
    expect(segments).toHaveLength(4); // '', 'api', 'calls', the call id
    expect(decodeURIComponent(segments[3]!)).toBe(callId);
    expect(request!.headers.authorization).toBe('Bearer crm-token-1');
    expect(request!.headers['idempotency-key']).toBe(idempotencyKey({ source: 'audian/main', type: 'call.summary', id: `audian/main/${callId}.summary.1` }, 'records', 'crm'));
    expect(JSON.parse(request!.body)).toEqual({
      external_id: callId,
      direction: 'inbound',
      caller: { number: '+14155550100', name: 'Jane Doe' },
      callee: '+14155550199',
      outcome: 'answered',
      started_at: at(0),
      answered_at: at(6_000),
      ended_at: at(96_000),
      ring_seconds: 6,
      talk_seconds: 90,
      hangup_cause: 'normal',
      recording_urls: [],
      tags: { campaign: 'spring' },
      version: 1,
      updated_at: at(96_000),
    });
  });

  it('a retry carries the same idempotency key; a late recording updates the record as version 2 with a new key', async () => {
    const callId = 'crm-retry';
    let failures = 0;
    crm.respondWith((request) => (request.url.startsWith('/api/calls/crm-retry') && failures++ === 0 ? { status: 503 } : { status: 200 }));
    await post(audianV2Calls.initiated(callId, CALLER, T0));
    await post(audianV2Calls.ended(callId, 'no_answer', T0 + 20_000));
    const records = () => under(`/api/calls/${callId}`);
    await waitFor(() => records().length === 2, { what: 'the failed and the retried request' });
    const [failed, retried] = records();
    expect(retried!.headers['idempotency-key']).toBe(failed!.headers['idempotency-key']);
    expect(retried!.body).toBe(failed!.body);

    await post({ id: 'evt_crm_retry_rec', timestamp: at(400_000), event: 'recording.completed', data: { call_id: callId, recording_id: 'rec_1', download_url: 'https://recordings.example/rec_1' } });
    await waitFor(() => records().length === 3, { what: 'version 2' });
    const update = records()[2]!;
    expect(update.headers['idempotency-key']).not.toBe(failed!.headers['idempotency-key']);
    expect(JSON.parse(update.body)).toMatchObject({ outcome: 'missed', version: 2, recording_urls: ['https://recordings.example/rec_1'], updated_at: at(400_000) });
  });
});

describe('idempotency keys', () => {
  it('two events that share a provider id (seed 001 reuses ids across types) get different keys; so do two routes', async () => {
    const shared = 'evt_shared_1';
    await post({ id: shared, timestamp: at(0), event: 'recording.started', data: { call_id: 'crm-shared', recording_id: 'rec_s' } });
    await post({ id: shared, timestamp: at(5_000), event: 'recording.stopped', data: { call_id: 'crm-shared', recording_id: 'rec_s' } });
    const requests = await waitFor(() => under('/plain/crm-shared').length === 4 && under('/plain/crm-shared'), { what: 'two events by two routes' });
    const keys = requests.map((request) => request.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(4);
    const expected = ['recording.started', 'recording.stopped'].flatMap((type) => ['plain-a', 'plain-b'].map((route) => idempotencyKey({ source: 'audian/main', type, id: shared }, route, 'plain')));
    expect([...keys].sort()).toEqual([...expected].sort());
  });
});

describe('stale_guard', () => {
  it('an out-of-order older update is skipped and recorded with its reason; newer ones still go', async () => {
    const callId = 'crm-guard';
    // The answer arrives first; the initiated event, older, after it.
    await post(audianV2Calls.answered(callId, T0 + 10_000));
    await post(audianV2Calls.initiated(callId, CALLER, T0));
    await post({ id: 'evt_crm_guard_held', timestamp: at(30_000), event: 'call.held', data: { call_id: callId } });
    const rows = async () => (await bridge.store.list({ connector: 'guarded', limit: 100 })).filter((row) => row.status !== 'pending');
    await waitFor(async () => (await rows()).length === 3, { what: 'three outcomes' });
    const byEvent = Object.fromEntries((await rows()).map((row) => [row.eventId, row]));
    expect(byEvent[`evt_${callId}_answered`]).toMatchObject({ status: 'delivered' });
    expect(byEvent[`evt_${callId}_initiated`]).toMatchObject({ status: 'skipped', skipReason: expect.stringMatching(/older than the update of 2026-02-04T10:30:10.000Z/) });
    expect(byEvent.evt_crm_guard_held).toMatchObject({ status: 'delivered' });
    expect(under('/guarded/').map((request) => (JSON.parse(request.body) as { type: string }).type)).toEqual(['call.answered', 'call.held']);
    // The mark is kept in the store, not in memory: a restart keeps guarding.
    const kept = bridge.db.prepare("SELECT COUNT(*) AS n FROM connector_state WHERE connector = 'guarded'").get() as { n: number };
    expect(kept.n).toBe(1);
  });

  it("an operator's replay of a skipped update is sent anyway, with the replay's own key, and leaves the mark", async () => {
    const callId = 'crm-guard-replay';
    await post(audianV2Calls.answered(callId, T0 + 10_000));
    await post(audianV2Calls.initiated(callId, CALLER, T0));
    const ofCall = async () => (await bridge.store.list({ connector: 'guarded', call: callId }));
    const skippedRow = await waitFor(async () => (await ofCall()).find((row) => row.status === 'skipped'), { what: 'the skipped older update' });
    expect(skippedRow.eventId).toBe(`evt_${callId}_initiated`);
    expect(await bridge.store.replay({ ids: [skippedRow.id] }, Date.now())).toEqual({ queued: [skippedRow.id], skipped: [] });
    const replayKey = idempotencyKey({ source: 'audian/main', type: 'call.initiated', id: skippedRow.eventId }, 'guarded', 'guarded', 1);
    const [resent] = await waitFor(() => {
      const found = under(`/guarded/${callId}`).filter((request) => request.headers['idempotency-key'] === replayKey);
      return found.length > 0 && found;
    }, { what: 'the replayed update at the CRM' });
    expect((JSON.parse(resent!.body) as { type: string }).type).toBe('call.initiated');
    await waitFor(async () => (await bridge.store.delivery(skippedRow.id))?.status === 'delivered', { what: 'the replay recorded as delivered' });
    expect(await bridge.store.delivery(skippedRow.id)).toMatchObject({ replay: 1, history: [{ outcome: 'skipped' }, { outcome: 'delivered' }] });
    // The mark stays at the newer update: a later older one is still skipped.
    await post({ id: 'evt_crm_guard_replay_early', timestamp: at(5_000), event: 'call.held', data: { call_id: callId } });
    await waitFor(async () => (await ofCall()).find((row) => row.eventId === 'evt_crm_guard_replay_early' && row.status === 'skipped'), { what: 'a later older update skipped' });
  });
});

describe('auth', () => {
  it('basic auth from the environment', async () => {
    await post({ id: 'evt_crm_basic', timestamp: at(0), event: 'ivr.input_received', data: { call_id: 'crm-basic', digits: '1' } });
    const [request] = await waitFor(() => under('/basic/').length > 0 && under('/basic/'), { what: 'the request' });
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from('bridge:p@ss:word').toString('base64')}`);
  });

  it('auth beside an Authorization header, or a bad credential, is a config error naming the key', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'http', url: 'https://crm.example/x', auth: { bearer: 't' }, headers: { Authorization: 'Bearer u' } }, 'connectors.crm.auth'],
      [{ type: 'http', url: 'https://u:p@crm.example/x', auth: { bearer: 't' } }, 'connectors.crm.auth'],
      [{ type: 'http', url: 'https://crm.example/x', auth: { basic: { username: 'a:b', password: 'p' } } }, 'connectors.crm.auth.basic.username'],
      [{ type: 'http', url: 'https://crm.example/x', auth: { bearer: 'a\r\nX-Forged: 1' } }, 'connectors.crm.auth.bearer'],
    ];
    for (const [options, path] of cases) {
      let error: unknown;
      try {
        parseConfig(YAML.stringify(baseConfig('/tmp/unused', { connectors: { crm: options }, routes: [{ name: 'all', to: 'crm' }] })), {}, CONNECTORS);
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code, JSON.stringify(options)).toBe('CONFIG_INVALID');
      expect((error as ConfigError).issues.map((issue) => `${issue.path} ${issue.code}`), JSON.stringify(options)).toEqual([`${path} CONFIG_BAD_VALUE`]);
    }
  });
});

describe('HTTP_PROXY / NO_PROXY', () => {
  let dir: string;
  let child: ChildBridge | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-proxy-'));
  });
  afterAll(async () => {
    if (child) await stopChildBridge(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('requests go through the proxy the environment names, and around it for NO_PROXY hosts', async () => {
    const proxy = await startProxyServer();
    const target = await startRecordingServer();
    try {
      const configPath = join(dir, 'config.yaml');
      writeFileSync(configPath, YAML.stringify(baseConfig(dir, { connectors: { crm: { type: 'http', url: `${target.url}/proxied/{subject}` } }, routes: [{ name: 'all', to: 'crm' }] })));
      const env = { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, http_proxy: proxy.url, https_proxy: proxy.url, NO_PROXY: '', no_proxy: '' };

      child = await startChildBridge(configPath, { env });
      await postWebhook(`${child.url}${PATH}`, { id: 'evt_proxy_1', timestamp: at(0), event: 'call.initiated', data: { call_id: 'via-proxy' } });
      await waitFor(() => target.requests.some((request) => request.url === '/proxied/via-proxy'), { what: 'the request through the proxy' });
      expect(proxy.targets).toContain(new URL(target.url).host);
      await stopChildBridge(child);

      // The same target listed in NO_PROXY: straight there.
      const seen = proxy.targets.length;
      child = await startChildBridge(configPath, { env: { ...env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' } });
      await postWebhook(`${child.url}${PATH}`, { id: 'evt_proxy_2', timestamp: at(0), event: 'call.initiated', data: { call_id: 'around-proxy' } });
      await waitFor(() => target.requests.some((request) => request.url === '/proxied/around-proxy'), { what: 'the request around the proxy' });
      expect(proxy.targets.length).toBe(seen);
      await stopChildBridge(child);
      child = undefined;
    } finally {
      await proxy.close();
      await target.close();
    }
  });
});
