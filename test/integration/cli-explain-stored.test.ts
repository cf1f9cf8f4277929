import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { baseConfig, TEST_SECRET } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `explain --call` and `explain --event` on what a running bridge stored:
 * the call's call.missed is not decided yet (a long missed_call_grace), so
 * explain derives it by the lifecycle's rules and shows the Slack message it
 * would post, without sending it and without the Slack token set.
 */

// Each test runs the CLI as a process, several times: seconds each on a busy machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const TOKEN = 'explain-admin-token-0123456789';
const SLACK_TOKEN = 'xoxb-test-token';
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-explain-stored-'));
const configPath = join(dir, 'config.yaml');
let bridge: ChildBridge;
let slack: FakeSlack;
let callId: string;

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { AUDIAN_BRIDGE_ADMIN_URL: undefined, SLACK_BOT_TOKEN: undefined, ADMIN_TOKEN: undefined, ...env } });
}

interface Explained {
  explanations: { origin: string; event: { type: string; subject: string }; deliveries: { connector: string; preview: { outcome: string; message?: { blocks?: { type: string }[] } } }[] }[];
  notes: string[];
  unset: { name: string; path: string }[];
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_TOKEN });
  writeFileSync(
    configPath,
    YAML.stringify(
      baseConfig(dir, {
        lifecycle: { missed_call_grace: '1h' },
        admin: { host: '127.0.0.1', port: 0, token: '${ADMIN_TOKEN}' },
        connectors: {
          events: { type: 'file', path: join(dir, 'events.jsonl') },
          alerts: { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: 'C0ALERTS', api_url: slack.apiUrl },
        },
        routes: [
          { name: 'all', to: 'events' },
          { name: 'missed', match: { type: 'call.missed' }, to: 'alerts' },
        ],
      }),
    ),
  );
  bridge = await startChildBridge(configPath, { cwd: dir, timeoutMs: 60_000, env: { SLACK_BOT_TOKEN: SLACK_TOKEN, ADMIN_TOKEN: TOKEN } });
  const sent = await cli(['send', 'missed-call', '--dialect', 'audian.v2', '--url', `${bridge.url}/webhooks/audian`], { AUDIAN_WEBHOOK_SECRET: TEST_SECRET });
  expect(sent.code, sent.stderr).toBe(0);
  const ended = await waitFor(
    async () => (JSON.parse((await cli(['events', 'list', '--config', configPath, '--type', 'call.failed'])).stdout || 'null') as { event: { subject: string } } | null) ?? undefined,
    { timeoutMs: 60_000, what: 'the stored call.failed' },
  );
  callId = ended.event.subject;
}, 90_000);

afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  await slack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('explain --call', () => {
  it('shows the Slack blocks of a missed call the lifecycle has not decided yet, sends nothing, needs no token', async () => {
    const result = await cli(['explain', '--config', configPath, '--call', callId]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`call.missed`);
    expect(result.stdout).toContain('not decided yet; derived now by the call lifecycle, not stored');
    expect(result.stdout).toContain('alerts (slack) via missed: channel C0ALERTS');
    expect(result.stdout).toContain('"blocks"');
    expect(result.stdout).toContain('Missed call');
    expect(result.stdout).toMatch(/not needed to explain.*SLACK_BOT_TOKEN \(connectors\.alerts\.token\)/);
    expect(slack.messages).toHaveLength(0);
    // Derived for the preview only: still undecided, nothing stored.
    const stored = await cli(['events', 'list', '--config', configPath, '--type', 'call.missed']);
    expect(stored.stdout).toBe('');
  });

  it('answers the same through the admin API, as JSON: call.missed with blocks, call.summary to the file', async () => {
    const result = await cli(['explain', '--config', configPath, '--call', callId, '--json', '--admin', bridge.adminUrl as string], { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN });
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as Explained;
    expect(answer.explanations.map((item) => [item.event.type, item.origin])).toEqual([['call.missed', 'derived'], ['call.summary', 'derived']]);
    const toSlack = answer.explanations[0]!.deliveries.find((delivery) => delivery.connector === 'alerts');
    expect(toSlack?.preview.outcome).toBe('send');
    expect(toSlack?.preview.message?.blocks?.[0]?.type).toBe('header');
    expect(answer.explanations[1]!.deliveries.map((delivery) => delivery.connector)).toEqual(['events']);
    expect(answer.unset.map((item) => item.name).sort()).toEqual(['ADMIN_TOKEN', 'SLACK_BOT_TOKEN']);
  });

  it('exits 1 with NOT_FOUND for a call that is not stored', async () => {
    const result = await cli(['explain', '--config', configPath, '--call', 'no-such-call']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('NOT_FOUND');
  });
});

describe('explain --event', () => {
  it('explains a stored event as stored (enriched from its call), with every route', async () => {
    const listed = JSON.parse((await cli(['events', 'list', '--config', configPath, '--type', 'call.ringing'])).stdout) as { event: { id: string } };
    const result = await cli(['explain', '--config', configPath, '--event', listed.event.id, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as Explained;
    expect(answer.explanations).toHaveLength(1);
    expect(answer.explanations[0]).toMatchObject({ origin: 'stored', event: { type: 'call.ringing', subject: callId } });
    expect(answer.explanations[0]!.deliveries.map((delivery) => delivery.connector)).toEqual(['events']);
    const missing = await cli(['explain', '--config', configPath, '--event', 'evt_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND');
  });
});
