import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, TEST_SECRET } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startFakeAudian, type FakeAudian } from '../helpers/fake-audian.js';
import { freePort } from '../../scripts/kafka-broker.js';

/**
 * `subscriptions test` end to end: the fake provider sends a real signed
 * webhook to the bridge running as a process, and the command waits until
 * the bridge's store holds it, on the local file or through the admin API;
 * and the two ways it fails, a URL that reaches nothing and a secret the
 * bridge does not accept, each named with its likely cause.
 */

const TOKEN = 'tok_test_cmd_never_printed_a77c';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-subs-test-'));
let fake: FakeAudian;
let bridge: ChildBridge | undefined;
beforeAll(async () => {
  fake = await startFakeAudian({ token: TOKEN, deliveryRetryDelaysMs: [100, 100] });
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});
afterEach(async () => {
  if (bridge) {
    await stopChildBridge(bridge);
    expect(bridge.output()).not.toContain(TOKEN);
  }
  bridge = undefined;
});

let cases = 0;
async function setup(options: { url?: (port: number) => string } = {}) {
  const dir = join(root, `case-${++cases}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  const url = options.url?.(port) ?? `http://127.0.0.1:${port}/webhooks/audian`;
  writeFileSync(
    configPath,
    YAML.stringify(
      baseConfig(dir, {
        server: { host: '127.0.0.1', port },
        admin: { port: 0, token: ADMIN_TOKEN },
        // The source's own secrets: a placeholder, and the accounts API's, which comes from the provider's dashboard.
        sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET, fake.accountsSecret] } } }],
        provider: { url: fake.url, token: '${AUDIAN_API_TOKEN}', account_id: fake.accountId, timeout: '5s' },
        subscriptions: [
          { name: `calls${cases}`, source: 'main', url, secret_file: join(dir, 'secrets', 'calls') },
          { name: `legacy${cases}`, source: 'main', url, api: 'accounts', hooks: ['channel_create'] },
        ],
      }),
    ),
  );
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const result = await runCli(['subscriptions', ...args, '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN, ...env } });
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
    return result;
  };
  const applied = await cli(['apply', '--yes']);
  expect(applied.code, applied.stderr).toBe(0);
  return { dir, configPath, cli, calls: `calls${cases}`, legacy: `legacy${cases}`, secretFile: join(dir, 'secrets', 'calls') };
}

describe('subscriptions test', { timeout: 90_000 }, () => {
  it('from apply to a verified event: the provider sends, the running bridge stores, the command prints the round trip', async () => {
    const { configPath, cli, calls, legacy } = await setup();
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    const result = await cli(['test', calls, '--event', 'call.completed', '--timeout', '10s', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { arrived: boolean; eventId: string; roundTripMs: number };
    expect(answer.arrived).toBe(true);
    expect(answer.eventId).toMatch(/^evt_/);
    expect(fake.logs.find((entry) => entry.id === answer.eventId)).toMatchObject({ status: 'delivered', response_status: 200, event: 'call.completed' });

    // Through the admin API, and for the accounts API's hook (signed with the dashboard's secret).
    const viaAdmin = await cli(['test', legacy, '--admin', bridge.adminUrl!, '--timeout', '10s'], { AUDIAN_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(viaAdmin.code, viaAdmin.stderr).toBe(0);
    expect(viaAdmin.stdout).toMatch(/^test event evt_\w+ of legacy\d+ stored by source main: \d+ ms/);
  });

  it('when the provider does not name the event, the next event stored from the source counts', async () => {
    const { configPath, cli, calls } = await setup();
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    fake.options.testAnswersWithoutId = true;
    try {
      const result = await cli(['test', calls, '--timeout', '10s']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('(unnamed by the provider)');
    } finally {
      fake.options.testAnswersWithoutId = false;
    }
  });

  it('a URL that reaches nothing: exit 1, the cause named as unreachable, well before the timeout', async () => {
    const { configPath, cli, calls } = await setup({ url: () => 'http://127.0.0.1:9/webhooks/audian' });
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    const started = Date.now();
    const result = await cli(['test', calls, '--timeout', '20s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('likely cause (unreachable)');
    expect(result.stderr).toContain('the provider logged no answer');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a secret the bridge does not accept: exit 1, the cause named as signature_refused, with the bridge\'s refusals through the admin API', async () => {
    const { configPath, cli, calls, secretFile } = await setup();
    writeFileSync(secretFile, 'whsec_not_the_providers\n', { mode: 0o600 });
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    const local = await cli(['test', calls, '--timeout', '20s']);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('likely cause (signature_refused)');
    expect(local.stderr).toContain('HTTP 401');
    const viaAdmin = await cli(['test', calls, '--timeout', '20s', '--json', '--admin', bridge.adminUrl!], { AUDIAN_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(viaAdmin.code).toBe(1);
    const answer = JSON.parse(viaAdmin.stdout) as { cause: string; rejections: Record<string, number>; providerStatus: number };
    expect(answer.cause).toBe('signature_refused');
    expect(answer.providerStatus).toBe(401);
    // The first try and each of its two retries.
    expect(answer.rejections).toEqual({ SIGNATURE_MISMATCH: 3 });
  });

  it('a subscription not applied yet, or an unknown name: clear errors', async () => {
    const { configPath, cli, calls } = await setup();
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    const id = [...fake.webhooks.values()].find((webhook) => webhook.description === `audian-bridge:${calls}`)!.id;
    fake.webhooks.delete(id);
    const missing = await cli(['test', calls]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SUBSCRIPTION_NOT_APPLIED');
    expect((await cli(['test', 'nope'])).code).toBe(64);
  });
});
