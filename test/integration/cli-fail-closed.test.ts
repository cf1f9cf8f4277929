import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postWebhook } from '../helpers/bridge.js';
import { CLI, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';

/**
 * Without a secret the embedded default must not be an open door: it listens
 * on 127.0.0.1 only and says why; with AUDIAN_BRIDGE_REQUIRE_VERIFY (the
 * Docker image) it does not start unless a config file asks for unsigned sources.
 */
const run = promisify(execFile);
const dirs: string[] = [];
const running: ChildBridge[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((bridge) => stopChildBridge(bridge)));
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** An empty working directory: no config.yaml, so the embedded default is used. */
function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-fail-closed-'));
  dirs.push(dir);
  return dir;
}

const event = { id: 'evt_fail_closed', event: 'call.initiated', timestamp: '2026-01-01T00:00:00Z', data: { call_id: 'c1' } };
const NO_SECRET = { AUDIAN_WEBHOOK_SECRET: '', AUDIAN_BRIDGE_REQUIRE_VERIFY: '', AUDIAN_BRIDGE_CONFIG: '', PORT: '0' };

async function serve(env: Record<string, string>, config?: string): Promise<ChildBridge> {
  const bridge = await startChildBridge(config, { cwd: emptyDir(), env: { ...NO_SECRET, ...env } });
  running.push(bridge);
  return bridge;
}

describe('the embedded default fails closed', () => {
  it('without AUDIAN_WEBHOOK_SECRET it listens on 127.0.0.1 only and says so, naming the variable', async () => {
    const bridge = await serve({});
    expect(new URL(bridge.url).hostname).toBe('127.0.0.1');
    const warning = bridge
      .output()
      .split('\n')
      .map((line) => { try { return JSON.parse(line) as { level: number; msg: string }; } catch { return undefined; } })
      .find((entry) => entry?.level === 40 && entry.msg.includes('AUDIAN_WEBHOOK_SECRET'));
    expect(warning?.msg).toMatch(/127\.0\.0\.1/);
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, event, { sign: false })).status).toBe(200);
  });

  it('with AUDIAN_WEBHOOK_SECRET it verifies signatures and listens on every interface', async () => {
    const bridge = await serve({ AUDIAN_WEBHOOK_SECRET: 'whsec_fail_closed' });
    expect(new URL(bridge.url).hostname).toBe('0.0.0.0');
    const local = bridge.url.replace('0.0.0.0', '127.0.0.1');
    expect((await postWebhook(`${local}/webhooks/audian`, event, { sign: false })).status).toBe(401);
    expect((await postWebhook(`${local}/webhooks/audian`, event, { secret: 'whsec_fail_closed' })).status).toBe(200);
  });

  it('with AUDIAN_BRIDGE_REQUIRE_VERIFY=1 and no secret it refuses to start', async () => {
    const result = await run(process.execPath, [CLI, 'serve'], { cwd: emptyDir(), env: { ...process.env, ...NO_SECRET, AUDIAN_BRIDGE_REQUIRE_VERIFY: '1' } }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sources[0].verify: ');
    expect(result.stderr).toContain('[CONFIG_UNVERIFIED_SOURCE]');
    expect(result.stderr).toContain('AUDIAN_WEBHOOK_SECRET');
  });

  it('with AUDIAN_BRIDGE_REQUIRE_VERIFY=1 and the secret it starts', async () => {
    const bridge = await serve({ AUDIAN_BRIDGE_REQUIRE_VERIFY: '1', AUDIAN_WEBHOOK_SECRET: 'whsec_fail_closed' });
    expect(new URL(bridge.url).hostname).toBe('0.0.0.0');
  });

  it('with AUDIAN_BRIDGE_REQUIRE_VERIFY=1 a config file that says verify: { none: true } starts', async () => {
    const dir = emptyDir();
    const path = join(dir, 'lab.yaml');
    writeFileSync(
      path,
      YAML.stringify({
        server: { host: '127.0.0.1', port: 0 },
        store: { path: join(dir, 'bridge.db') },
        sources: [{ name: 'lab', verify: { none: true } }],
        connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
        routes: [{ name: 'all', to: 'events' }],
      }),
    );
    const bridge = await serve({ AUDIAN_BRIDGE_REQUIRE_VERIFY: '1' }, path);
    expect((await postWebhook(`${bridge.url}/webhooks/lab`, event, { sign: false })).status).toBe(200);
  });
});
