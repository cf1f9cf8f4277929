import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../scripts/kafka-broker.js';
import { baseConfig, postWebhook, TEST_SECRET } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Messages that name what to do, and a stderr that holds log lines only:
 * each against the bridge as a process, or the CLI as an operator runs it.
 */

// Each test runs the CLI as a process, several times: seconds each on a busy machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const TOKEN = 'messages-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-messages-'));
const configPath = join(dir, 'config.yaml');
let bridge: ChildBridge;
let crm: RecordingServer;
let config: Record<string, unknown>;

const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { cwd: dir, env: { AUDIAN_BRIDGE_ADMIN_URL: undefined, ...env } });
const viaAdmin = (args: string[]) => cli([...args, '--admin', bridge.adminUrl as string], { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN });

async function admin(method: string, path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${bridge.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.status, body: await response.json() };
}

function initiated(callId: string) {
  return audianV2Calls.initiated(callId, { direction: 'inbound', from: '+14155550100', to: '+14155550199' }, Date.now());
}

beforeAll(async () => {
  crm = await startRecordingServer();
  config = baseConfig(dir, {
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') }, crm: { type: 'http', url: `${crm.url}/calls/{subject}` } },
    routes: [{ name: 'all', to: ['events', 'crm'] }],
  });
  writeFileSync(configPath, YAML.stringify(config));
  // No proxy variable: the http connector connects directly.
  bridge = await startChildBridge(configPath, { cwd: dir, timeoutMs: 60_000, env: { HTTPS_PROXY: '', HTTP_PROXY: '', https_proxy: '', http_proxy: '' } });
}, 90_000);

afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  await crm?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the serving process', () => {
  it('writes nothing but JSON log lines while an http connector delivers (no UNDICI-EHPA warning)', async () => {
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-json'))).status).toBe(200);
    await waitFor(() => crm.requests.length > 0, { what: 'the CRM request' });
    const output = bridge.output();
    expect(output).not.toContain('UNDICI-EHPA');
    for (const line of output.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('a POST to an unknown path is a plain 404, and the log names the configured source paths', async () => {
    const answer = await postWebhook(`${bridge.url}/webhooks/main`, initiated('c-lost'));
    expect(answer.status).toBe(404);
    expect(JSON.stringify(answer.body)).not.toContain('/webhooks/audian');
    const line = await waitFor(
      () => bridge.output().split('\n').find((text) => text.includes('where no source listens')),
      { what: 'the unknown-path log line' },
    );
    expect(JSON.parse(line)).toMatchObject({ level: 40, path: '/webhooks/main', sources: ['/webhooks/audian'] });
    expect(line).toContain('the configured source paths are /webhooks/audian');
  });

  it('a refused reload names the key that cannot change (server.port), not its section', async () => {
    writeFileSync(configPath, YAML.stringify({ ...config, server: { host: '127.0.0.1', port: await freePort() } }));
    try {
      const refused = await admin('POST', '/admin/reload');
      expect(refused.status).toBe(409);
      expect(refused.body.error.issues.map((issue: { path: string }) => issue.path)).toEqual(['server.port']);
      expect(refused.body.error.message).toContain('server.port cannot change while running');
    } finally {
      writeFileSync(configPath, YAML.stringify(config));
    }
  });
});

describe('the admin API', () => {
  it('GET /admin lists the endpoints', async () => {
    const index = await admin('GET', '/admin');
    expect(index.status).toBe(200);
    const listed = index.body.endpoints.map((endpoint: { method: string; path: string }) => `${endpoint.method} ${endpoint.path}`);
    for (const endpoint of ['GET /admin/connectors', 'GET /admin/events', 'GET /admin/events/:id', 'GET /admin/calls', 'POST /admin/reload', 'POST /admin/deliveries/replay']) {
      expect(listed).toContain(endpoint);
    }
  });

  it('GET /admin/connectors and deliveries show say a connector is paused, what waits and since when', async () => {
    const paused = await viaAdmin(['pause', 'crm']);
    expect(paused.code, paused.stderr).toBe(0);
    try {
      expect((await postWebhook(`${bridge.url}/webhooks/audian`, initiated('c-paused'))).status).toBe(200);
      const state = await waitFor(async () => {
        const found = (await admin('GET', '/admin/connectors')).body.connectors.find((row: { name: string }) => row.name === 'crm');
        return found.pending > 0 ? found : undefined;
      }, { what: 'a pending crm delivery' });
      expect(state).toMatchObject({ paused: true, pausedSince: expect.any(String), pending: 1, inFlight: 0, dead: 0, oldestPendingAt: expect.any(String), lastError: null });

      const listed = await cli(['deliveries', '--config', configPath, '--connector', 'crm', '--status', 'pending']);
      const id = (JSON.parse(listed.stdout.split('\n')[0] as string) as { id: number }).id;
      const shown = await viaAdmin(['deliveries', 'show', String(id)]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'pending', pausedSince: state.pausedSince, waiting: expect.stringContaining('connector crm is paused') });
      expect(shown.stderr).toContain('audian-bridge resume crm');
    } finally {
      await viaAdmin(['resume', 'crm']);
    }
  }, 90_000);
});

describe('operator commands', () => {
  it('replay exits 1 when an id it was given was not queued; a filter matching nothing exits 0', async () => {
    const missing = await cli(['replay', '999999', '--config', configPath]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('skipped 999999: no such delivery');
    const none = await cli(['replay', '--status', 'dead', '--connector', 'crm', '--config', configPath]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain('0 dead deliveries queued again');
  });

  it('send to a bridge that is not running asks whether serve runs, without waiting 15 s', async () => {
    const started = Date.now();
    const result = await cli(['send', 'missed-call', '--url', `http://127.0.0.1:${await freePort()}/webhooks/audian`], { AUDIAN_WEBHOOK_SECRET: TEST_SECRET });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is `audian-bridge serve` running?');
    // The old wait alone was 15 s; a refused connection now ends it after 5.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('send missed-call with config.example.yaml and README\'s admin token needs only the webhook secret', async () => {
    const example = readFileSync(new URL('../../config.example.yaml', import.meta.url), 'utf8').replace('"${ADMIN_TOKEN:-}"', '"${ADMIN_TOKEN}"');
    expect(example).toContain('"${ADMIN_TOKEN}"');
    const path = join(dir, 'example.yaml');
    writeFileSync(path, example);
    const port = new URL(bridge.url).port;
    const unset = { VOICE_WEBHOOK_KEY: undefined, SLACK_BOT_TOKEN: undefined, CRM_TOKEN: undefined, ADMIN_TOKEN: undefined };
    const result = await cli(['send', 'missed-call', '--dialect', 'audian.v2', '--config', path], { ...unset, PORT: port, AUDIAN_WEBHOOK_SECRET: TEST_SECRET });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^200 call\.initiated /m);
    // Sending to the voice source needs its key: that one is named.
    const voice = await cli(['send', 'call.completed', '--dialect', 'voice', '--source', 'voice', '--config', path], { ...unset, PORT: port });
    expect(voice.code).toBe(2);
    expect(voice.stderr).toContain('sources[1].verify.header.value: environment variable VOICE_WEBHOOK_KEY is not set, and send needs it');
  });

  it('an unknown config key lists the allowed keys and the nearest one', async () => {
    const path = join(dir, 'misspelt.yaml');
    writeFileSync(path, YAML.stringify(baseConfig(dir, { connectors: { slack: { type: 'slack', token: 'xoxb-1', channel: 'C1', url: 'https://slack.example.com/api/' } }, routes: [{ name: 'all', to: 'slack' }] })));
    const result = await cli(['check', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/connectors\.slack\.url: unknown key \(did you mean `api_url`\?\); allowed here: api_url, channel, dispatch, .*token, type \[CONFIG_UNKNOWN_KEY\]/);
  });
});
