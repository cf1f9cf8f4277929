import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startFakeAudian, type FakeAudian } from '../helpers/fake-audian.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../../scripts/kafka-broker.js';

/**
 * `subscriptions reconcile` after an outage: the bridge (a real process) is
 * stopped while the fake provider keeps sending, gives up on those events and
 * logs them failed; the report names exactly those, on the local store and
 * through the admin API, and the one the provider says it delivered but never
 * sent. `status` and `expect_within` (a metric and a warning in /readyz) too.
 */

const TOKEN = 'tok_reconcile_never_printed_3c0f';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-subs-reconcile-'));
let fake: FakeAudian;
let bridge: ChildBridge | undefined;
const outputs: string[] = [];
beforeAll(async () => {
  // Pages of two: the delivery log is read across many pages.
  fake = await startFakeAudian({ token: TOKEN, pageSize: 2, deliveryRetryDelaysMs: [50, 50] });
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
  for (const output of outputs) expect(output).not.toContain(TOKEN);
});
afterEach(async () => {
  if (bridge) {
    await stopChildBridge(bridge);
    outputs.push(bridge.output());
  }
  bridge = undefined;
});

async function setup(name: string, subscription: Record<string, unknown> = {}) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    YAML.stringify(
      baseConfig(dir, {
        server: { host: '127.0.0.1', port },
        admin: { port: 0, token: ADMIN_TOKEN },
        provider: { url: fake.url, token: '${AUDIAN_API_TOKEN}' },
        subscriptions: [{ name, source: 'main', url: `http://127.0.0.1:${port}/webhooks/audian`, secret_file: join(dir, 'secrets', name), ...subscription }],
      }),
    ),
  );
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const result = await runCli(['subscriptions', ...args, '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN, ...env } });
    outputs.push(result.stdout + result.stderr);
    return result;
  };
  expect((await cli(['apply', '--yes'])).code).toBe(0);
  const webhookId = [...fake.webhooks.values()].find((item) => item.description === `audian-bridge:${name}`)!.id;
  const start = async () => (bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } }));
  return { dir, cli, start, webhookId, port };
}

interface Report {
  gap: boolean;
  counts: Record<string, number>;
  notDelivered: { id: string; status: string; responseStatus: number | null; attempts: number }[];
  deliveredNotStored: { id: string }[];
  recovery: string[];
}

const emitAll = async (n: number) => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await fake.emit('call.completed', { seq: i })).id);
  return ids;
};

describe('subscriptions reconcile and status', { timeout: 120_000 }, () => {
  it('after the bridge was stopped, the report names exactly the events the provider could not deliver', async () => {
    const { cli, start, webhookId } = await setup('rec');
    await start();
    const before = await emitAll(3);
    await stopChildBridge(bridge!);
    outputs.push(bridge!.output());
    const during = await emitAll(4);
    expect(fake.logs.filter((entry) => during.includes(entry.id)).map((entry) => entry.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
    await start();
    const after = await emitAll(2);
    const unsent = fake.logUnsent(webhookId);
    expect(fake.logs.filter((entry) => [...before, ...after].includes(entry.id)).every((entry) => entry.status === 'delivered')).toBe(true);

    const local = await cli(['reconcile', 'rec', '--since', '1h', '--json']);
    expect(local.code, local.stderr).toBe(3);
    const report = JSON.parse(local.stdout) as Report;
    expect(report.gap).toBe(true);
    expect(report.notDelivered.map((item) => item.id)).toEqual(during);
    expect(report.notDelivered.every((item) => item.status === 'failed' && item.responseStatus === null && item.attempts === 3)).toBe(true);
    expect(report.deliveredNotStored.map((item) => item.id)).toEqual([unsent]);
    expect(report.counts).toEqual({ logged: 10, deliveredAndStored: 5, notDeliveredButStored: 0, notDelivered: 4, deliveredNotStored: 1 });
    expect(report.recovery.join('\n')).toContain('send --file');

    const text = await cli(['reconcile', 'rec', '--since', '1h']);
    expect(text.code).toBe(3);
    for (const id of during) expect(text.stdout).toContain(id);
    expect(text.stdout).toContain('gap: 5 event(s) missing from the store');

    // The same report from the running bridge's admin API.
    const viaAdmin = await cli(['reconcile', 'rec', '--since', '1h', '--json', '--admin', bridge!.adminUrl!], { AUDIAN_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(viaAdmin.code, viaAdmin.stderr).toBe(3);
    const remote = JSON.parse(viaAdmin.stdout) as Report;
    expect(remote.notDelivered.map((item) => item.id)).toEqual(during);
    expect(remote.deliveredNotStored.map((item) => item.id)).toEqual([unsent]);
    const direct = await fetch(`${bridge!.adminUrl}/admin/subscriptions/rec/reconcile?since=1h`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(direct.status).toBe(200);
    expect(((await direct.json()) as Report).counts.notDelivered).toBe(4);
    const unknown = await fetch(`${bridge!.adminUrl}/admin/subscriptions/nope/reconcile`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(unknown.status).toBe(404);

    // A window after the outage has no gap; a provider that ignores `since` is filtered here.
    fake.options.logsIgnoreSince = true;
    try {
      const sinceAfter = new Date(fake.logs.find((entry) => entry.id === after[0])!.timestamp).toISOString();
      fake.logs.splice(fake.logs.findIndex((entry) => entry.id === unsent), 1);
      const clean = await cli(['reconcile', 'rec', '--since', sinceAfter, '--json']);
      expect(clean.code, clean.stdout).toBe(0);
      expect((JSON.parse(clean.stdout) as Report).counts).toMatchObject({ logged: 2, deliveredAndStored: 2 });
    } finally {
      fake.options.logsIgnoreSince = false;
    }
  });

  it('status: the provider id, enabled, secrets on file and the last event; expect_within silent as a metric and a /readyz warning', async () => {
    const { cli, start, webhookId, port } = await setup('st', { expect_within: '6s' });
    await start();
    await emitAll(1);
    const readyz = async () => (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string; warnings?: string[] };
    const silentMetric = async () => /audian_bridge_subscription_silent\{subscription="st",source="main"\} (\d)/.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
    expect(await silentMetric()).toBe('0');
    expect((await readyz()).warnings).toBeUndefined();
    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const [row] = (JSON.parse(status.stdout) as { subscriptions: Record<string, unknown>[] }).subscriptions;
    expect(row).toMatchObject({ name: 'st', api: 'webhooks', source: 'main', webhooks: [{ id: webhookId, enabled: true, inStep: true }], secrets: { count: 1, nextExpiry: null }, expectWithinMs: 6_000 });
    expect(Date.now() - Date.parse(row!.lastReceivedAt as string)).toBeLessThan(30_000);
    expect((await cli(['status'])).stdout).toContain(`provider: ${webhookId}, enabled`);

    const warned = await waitFor(async () => {
      const answer = await readyz();
      return answer.warnings?.length ? answer : undefined;
    }, { timeoutMs: 15_000, intervalMs: 250, what: 'a silence warning' });
    expect(warned.status).toBe('ready');
    expect(warned.warnings![0]).toMatch(/^subscription st: source main received nothing for longer than expect_within \(6 s\)/);
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(response.status, 'a quiet provider never makes the bridge unready').toBe(200);
    expect(await silentMetric()).toBe('1');
    expect(JSON.parse((await cli(['status', '--json'])).stdout).subscriptions[0].silent).toBe(true);

    await emitAll(1);
    expect(await silentMetric()).toBe('0');
    expect((await readyz()).warnings).toBeUndefined();
  });
});
