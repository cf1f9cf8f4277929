import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { postWebhook, TEST_SECRET } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { CLI, runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `audian-bridge tail` against the bridge as a real process: from the
 * store the config names, and through the admin API's stream. Each shows
 * a webhook sent while it runs within 2 s, applies its filters, and exits
 * 0 on Ctrl-C.
 */
const TOKEN = 'cli-tail-admin-token-83b1f0';

let dir: string;
let configPath: string;
let bridge: ChildBridge;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-cli-tail-'));
  configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, YAML.stringify({
    server: { host: '127.0.0.1', port: 0 },
    store: { path: join(dir, 'bridge.db') },
    admin: { host: '127.0.0.1', port: 0, token: TOKEN },
    dispatch: { poll_interval: '100ms' },
    sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET] } } }],
    connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
    routes: [{ name: 'all', to: 'events' }],
  }));
  bridge = await startChildBridge(configPath, { timeoutMs: 60_000 });
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  rmSync(dir, { recursive: true, force: true });
});

interface Tail {
  readonly child: ChildProcess;
  readonly lines: () => Record<string, unknown>[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Runs `tail ARGS` with stdout piped (so JSON lines) until it says it is watching. */
async function startTail(args: readonly string[], env: Record<string, string> = {}): Promise<Tail> {
  const child = spawn(process.execPath, [CLI, 'tail', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => stderr.includes('watching'), { timeoutMs: 30_000, what: `tail to start (stderr: ${stderr})` });
  const lines = () => stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
  return { child, lines, stderr: () => stderr, exited };
}

let calls = 0;
async function sendCall(): Promise<{ call: string; sent: number }> {
  const call = `cli-tail-${process.pid}-${++calls}`;
  const sent = Date.now();
  const result = await postWebhook(`${bridge.url}/webhooks/audian`, audianV2Calls.initiated(call, { direction: 'inbound', from: '+14155550100', to: '+14155550199' }, sent));
  expect(result.status).toBe(200);
  return { call, sent };
}

describe.each([
  ['the local store', () => ['--config', configPath], {}],
  ['--admin', () => ['--admin', bridge.adminUrl!], { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN }],
] as const)('audian-bridge tail from %s', (_, argsOf, env) => {
  it('shows a webhook sent meanwhile within 2 s, and its delivery; Ctrl-C exits 0', async () => {
    const tail = await startTail(argsOf(), env);
    try {
      const { call, sent } = await sendCall();
      const webhook = await waitFor(() => tail.lines().find((line) => line.kind === 'webhook' && line.callId === call), { timeoutMs: 2_000, what: 'the webhook line' });
      expect(Date.now() - sent).toBeLessThan(2_000);
      expect(webhook).toMatchObject({ source: 'main', outcome: 'accepted', type: 'call.initiated', from: '+14155550100', to: '+14155550199' });
      const delivery = await waitFor(() => tail.lines().find((line) => line.kind === 'delivery' && line.callId === call), { timeoutMs: 5_000, what: 'the delivery line' });
      expect(delivery).toMatchObject({ connector: 'events', route: 'all', outcome: 'delivered' });
      expect(typeof delivery.latencyMs).toBe('number');
    } finally {
      tail.child.kill('SIGINT');
    }
    expect(await tail.exited).toBe(0);
  });

  it('applies its filters', async () => {
    const filtered = await startTail([...argsOf(), '--connector', 'events', '--type', 'call.init*'], env);
    const other = await startTail([...argsOf(), '--call', 'no-such-call'], env);
    try {
      const { call } = await sendCall();
      await waitFor(() => filtered.lines().find((line) => line.callId === call), { timeoutMs: 5_000, what: 'the delivery line' });
      expect(filtered.lines().every((line) => line.kind === 'delivery' && line.connector === 'events' && line.type === 'call.initiated')).toBe(true);
      // The same webhook reached the other tail as well by now (one feed, one store): it showed none of it.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(other.lines()).toEqual([]);
    } finally {
      filtered.child.kill('SIGINT');
      other.child.kill('SIGINT');
    }
    expect(await filtered.exited).toBe(0);
    expect(await other.exited).toBe(0);
  });
});

describe('audian-bridge tail --admin', () => {
  it('without the token: exits 1 and says UNAUTHORIZED and how to give the token', async () => {
    const result = await runCli(['tail', '--admin', bridge.adminUrl!], { env: { AUDIAN_BRIDGE_ADMIN_TOKEN: undefined } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('UNAUTHORIZED');
    expect(result.stderr).toContain('AUDIAN_BRIDGE_ADMIN_TOKEN');
  });
});
