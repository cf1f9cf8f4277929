import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { startService } from '../../src/service.js';
import { baseConfig, postWebhook, startBridge, type TestBridge } from '../helpers/bridge.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The running bridge and a subscription's secrets file: a source accepts the
 * file's unexpired secrets besides its own, sees a new file within 2 s
 * (written in place or renamed over), and stops accepting a secret at its
 * expiry with nothing else changing.
 */

let bridge: TestBridge | undefined;
afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
});

const secretsPath = (dir: string) => join(dir, 'secrets', 'calls');

async function start(): Promise<TestBridge> {
  bridge = await startBridge((dir) =>
    baseConfig(dir, {
      provider: { url: 'http://127.0.0.1:9', token: 'tok_unused' },
      subscriptions: [{ name: 'calls', source: 'main', url: 'https://bridge.example.com/webhooks/audian', secret_file: secretsPath(dir) }],
    }),
  );
  return bridge;
}

let n = 0;
const event = () => ({ id: `evt_secret_${++n}`, event: 'call.completed', timestamp: new Date().toISOString(), data: { call_id: `c${n}` } });

describe('secrets files in the running bridge', () => {
  it('a secret written to the file is accepted within 2 s; the source\'s own secret stays accepted', async () => {
    const running = await start();
    expect((await running.post('/webhooks/audian', event(), { secret: 'whsec_from_file' })).status).toBe(401);
    const written = Date.now();
    writeFileSync(secretsPath(running.dir), 'whsec_from_file\n', { mode: 0o600 });
    await waitFor(async () => (await running.post('/webhooks/audian', event(), { secret: 'whsec_from_file' })).status === 200, { timeoutMs: 2_000, intervalMs: 50, what: 'the file secret accepted' });
    expect(Date.now() - written).toBeLessThan(2_000);
    expect((await running.post('/webhooks/audian', event())).status).toBe(200);
  });

  it('a file renamed over the old one replaces its secrets; an expired one is refused with no further change', async () => {
    const running = await start();
    const file = secretsPath(running.dir);
    writeFileSync(file, 'whsec_first\n');
    await waitFor(async () => (await running.post('/webhooks/audian', event(), { secret: 'whsec_first' })).status === 200, { timeoutMs: 2_000, intervalMs: 50 });
    const expiry = new Date(Date.now() + 1_500).toISOString();
    writeFileSync(`${file}.tmp`, `whsec_second\nwhsec_first expires=${expiry}\n`);
    renameSync(`${file}.tmp`, file);
    await waitFor(async () => (await running.post('/webhooks/audian', event(), { secret: 'whsec_second' })).status === 200, { timeoutMs: 2_000, intervalMs: 50, what: 'the renamed file read' });
    expect((await running.post('/webhooks/audian', event(), { secret: 'whsec_first' })).status).toBe(200);
    await waitFor(() => Date.now() > Date.parse(expiry), { timeoutMs: 3_000 });
    const refused = await running.post('/webhooks/audian', event(), { secret: 'whsec_first' });
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('SIGNATURE_MISMATCH');
    expect((await running.post('/webhooks/audian', event(), { secret: 'whsec_second' })).status).toBe(200);
  });
});

describe('a reload', () => {
  it('puts a new subscription\'s secrets file in force, and drops a removed one\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-secrets-reload-'));
    const file = join(dir, 'secrets', 'added');
    const configs = [
      baseConfig(dir),
      baseConfig(dir, {
        provider: { url: 'http://127.0.0.1:9', token: 'tok_unused' },
        subscriptions: [{ name: 'added', source: 'main', url: 'https://bridge.example.com/webhooks/audian', secret_file: file }],
      }),
    ];
    let current = 0;
    const load = async () => parseConfig(YAML.stringify(configs[current]), {}, CONNECTORS);
    const service = await startService(await load(), { logger: pino({ level: 'silent' }), loadConfig: load });
    try {
      const post = () => postWebhook(`${service.url}/webhooks/audian`, event(), { secret: 'whsec_added' });
      expect((await post()).status).toBe(401);
      current = 1;
      expect((await service.reload('test')).reloaded).toBe(true);
      writeFileSync(file, 'whsec_added\n');
      await waitFor(async () => (await post()).status === 200, { timeoutMs: 2_000, intervalMs: 50, what: 'the added subscription\'s secret accepted' });
      current = 0;
      expect((await service.reload('test')).reloaded).toBe(true);
      expect((await post()).status).toBe(401);
    } finally {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
