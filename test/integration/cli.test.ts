import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { verifyAudianHmac } from '../../src/verify/index.js';
import { baseConfig, postWebhook, TEST_SECRET } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return runCli(args, { cwd: dir, ...(options.input === undefined ? {} : { input: options.input }), env: options.env ?? {} });
}

describe('audian-bridge check', () => {
  it('prints sources, connectors and routes of a valid config and exits 0', async () => {
    const path = join(dir, 'good.yaml');
    writeFileSync(path, YAML.stringify(baseConfig(dir, { routes: [{ name: 'calls', match: { type: 'call.*' }, when: 'test = false', to: 'events' }] })));
    const result = await cli(['check', '--config', path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('main  POST /webhooks/audian  verify: hmac (1 secret(s))');
    expect(result.stdout).toContain('events  (file)');
    expect(result.stdout).toContain('calls: type=call.* when test = false -> events');
  });

  it('exits 2 on a bad config, naming the key path', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'sources: [{ name: main, verify: { hmac: { secrets: [] } } }]\nconnectors: { out: { type: file } }\n');
    const result = await cli(['check', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sources[0].verify.hmac.secrets');
    expect(result.stderr).toContain('connectors.out.path');
  });

  it('finds the config through AUDIAN_BRIDGE_CONFIG', async () => {
    const result = await cli(['check'], { env: { AUDIAN_BRIDGE_CONFIG: join(dir, 'good.yaml') } });
    expect(result.stdout).toContain(`config: ${join(dir, 'good.yaml')} (valid)`);
  });

  it('serve refuses to start on a bad config', async () => {
    const result = await cli(['serve', '--config', join(dir, 'bad.yaml')]);
    expect(result.code).toBe(2);
  });

  it('rejects unknown commands and options with a usage message', async () => {
    expect((await cli(['frobnicate'])).code).toBe(64);
    expect((await cli(['check', '--nope'])).code).toBe(64);
    expect((await cli(['deliveries', '--status', 'lost'])).code).toBe(64);
  });
});

describe('audian-bridge check, hardened', () => {
  it('exits 2 on source paths that differ only in case, naming the key', async () => {
    const path = join(dir, 'case.yaml');
    writeFileSync(path, 'sources:\n  - { name: lab, path: /Webhooks/Audian, verify: { none: true } }\n  - { name: main, path: /webhooks/audian, verify: { hmac: { secrets: [s1] } } }\n');
    const result = await cli(['check', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sources[1].path');
    expect(result.stderr).toContain('[CONFIG_DUPLICATE]');
  });

  it('a secret file named under log.level: the error names the key and the file, never its content', async () => {
    const secret = join(dir, 'leaky-secret');
    writeFileSync(secret, 'whsec_must_not_be_printed\n');
    const path = join(dir, 'leak.yaml');
    writeFileSync(path, YAML.stringify(baseConfig(dir, { log: { level: `\${file:${secret}}` } })));
    const result = await cli(['check', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('log.level');
    expect(result.stderr).toContain(`file ${secret}`);
    expect(result.stderr).not.toContain('whsec_must_not_be_printed');
  });
});

describe('audian-bridge deliveries without the serving secrets', () => {
  it('lists deliveries with ADMIN_TOKEN and the webhook secret unset: it needs only the store', async () => {
    const storeDir = join(dir, 'store-only');
    const path = join(storeDir, 'config.yaml');
    mkdirSync(storeDir, { recursive: true });
    const config = baseConfig(storeDir, {
      admin: { port: 0, token: '${ADMIN_TOKEN}' },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: ['${AUDIAN_WEBHOOK_SECRET}'] } } }],
    });
    writeFileSync(path, YAML.stringify(config));
    const secrets = { ADMIN_TOKEN: 'admin-token-for-store-only-0123', AUDIAN_WEBHOOK_SECRET: TEST_SECRET };
    const bridge = await startChildBridge(path, { env: secrets });
    try {
      const answer = await postWebhook(`${bridge.url}/webhooks/audian`, { id: 'evt_store_only', event: 'call.initiated', timestamp: '2026-01-01T00:00:00Z', data: { call_id: 'c' } });
      expect(answer.status).toBe(200);
    } finally {
      await stopChildBridge(bridge);
    }
    const listed = await runCli(['deliveries', '--config', path], { cwd: dir, env: { ADMIN_TOKEN: undefined, AUDIAN_WEBHOOK_SECRET: undefined } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { eventId: string }).eventId)).toEqual(['evt_store_only']);
  });
});

describe('audian-bridge sign', () => {
  it('prints headers that verify against the body read from stdin', async () => {
    const body = '{"id":"evt_cli","event":"call.ringing","data":{}}';
    const result = await cli(['sign', '--secret', 'whsec_cli'], { input: body });
    expect(result.code).toBe(0);
    const headers = Object.fromEntries(result.stdout.trim().split('\n').map((line) => line.split(': ') as [string, string]));
    expect(() => verifyAudianHmac({ rawBody: Buffer.from(body), headers, now: Date.now() }, { secrets: ['whsec_cli'], toleranceSeconds: 300 })).not.toThrow();
  });
});

describe('audian-bridge deliveries and retry', () => {
  it('lists dead deliveries and queues them again; the running service then delivers them', async () => {
    const crm = await startRecordingServer(() => ({ status: 400 }));
    const path = join(dir, 'retry.yaml');
    writeFileSync(path, YAML.stringify(baseConfig(join(dir, 'retry'), { connectors: { crm: { type: 'http', url: crm.url } }, routes: [{ name: 'crm', to: 'crm' }] })));
    const bridge = await startChildBridge(path);
    try {
      const answer = await postWebhook(`${bridge.url}/webhooks/audian`, { id: 'evt_retry', event: 'call.initiated', timestamp: '2026-01-01T00:00:00Z', data: { call_id: 'c' } });
      expect(answer.status).toBe(200);
      const dead = await waitFor(async () => {
        const listed = await cli(['deliveries', '--config', path, '--status', 'dead']);
        return listed.stdout.trim() !== '' && listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: number; eventId: string; lastError: string });
      }, { what: 'a dead delivery' });
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ eventId: 'evt_retry', status: 'dead' });
      expect(dead[0]!.lastError).toMatch(/400/);

      crm.respondWith(() => ({ status: 200 }));
      const retried = await cli(['retry', '--config', path, String(dead[0]!.id)]);
      expect(retried.stdout).toContain('1 of 1 deliveries queued again');
      await waitFor(() => crm.requests.length === 2, { what: 'the retried request' });
      await stopChildBridge(bridge);
      const store = await openStore({ path: join(dir, 'retry', 'bridge.db') });
      try {
        expect((await store.list({ status: 'delivered', limit: 10 })).map((row) => row.eventId)).toEqual(['evt_retry']);
      } finally {
        await store.close();
      }
    } finally {
      await stopChildBridge(bridge);
      await crm.close();
    }
  });
});
