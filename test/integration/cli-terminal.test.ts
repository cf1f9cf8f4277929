import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { baseConfig, TEST_SECRET } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The operator's terminal against a bridge running as a process: a missed
 * call sent with `send`, then read back whole with `events list`,
 * `calls list --phone` and `calls show`, on the local file and through the
 * admin API, which must answer alike.
 */

// Each test runs the CLI as a process, several times: seconds each on a busy machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const TOKEN = 'terminal-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-terminal-'));
const configPath = join(dir, 'config.yaml');
let bridge: ChildBridge;
let callId: string;

interface Listed {
  receivedAt: string;
  event: { id: string; type: string; subject?: string; dialect: string; source: string };
}

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCli(args, { cwd: dir, env: { AUDIAN_BRIDGE_ADMIN_URL: undefined, ...env } });
}
const viaAdmin = (args: string[]) => cli([...args, '--admin', bridge.adminUrl as string], { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN });
const lines = <T>(stdout: string): T[] => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);

beforeAll(async () => {
  writeFileSync(configPath, YAML.stringify(baseConfig(dir, { admin: { host: '127.0.0.1', port: 0, token: TOKEN } })));
  bridge = await startChildBridge(configPath, { cwd: dir, timeoutMs: 60_000 });
  const sent = await cli(['send', 'missed-call', '--dialect', 'audian.v2', '--url', `${bridge.url}/webhooks/audian`], { AUDIAN_WEBHOOK_SECRET: TEST_SECRET });
  expect(sent.code, sent.stderr).toBe(0);
  // The derived events come after missed_call_grace (200ms in baseConfig).
  const summary = await waitFor(
    async () => lines<Listed>((await cli(['events', 'list', '--config', configPath, '--type', 'call.summary'])).stdout)[0],
    { timeoutMs: 60_000, what: 'the call.summary of the missed call' },
  );
  callId = summary.event.subject as string;
}, 90_000);

afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  rmSync(dir, { recursive: true, force: true });
});

describe('events list', () => {
  it('prints JSON lines when piped, newest first, with the count on stderr; filters by type and call', async () => {
    const all = await cli(['events', 'list', '--config', configPath]);
    expect(all.code, all.stderr).toBe(0);
    const types = lines<Listed>(all.stdout).map((row) => row.event.type);
    // The two derived events fall due at the same moment (the grace after the ending), so either may be stored first.
    expect(types.slice(2)).toEqual(['call.failed', 'call.ringing', 'call.initiated']);
    expect(types.slice(0, 2).sort()).toEqual(['call.missed', 'call.summary']);
    expect(all.stderr).toBe('5 events\n');

    const missed = lines<Listed>((await cli(['events', 'list', '--config', configPath, '--type', 'call.missed', '--call', callId])).stdout);
    expect(missed).toHaveLength(1);
    expect(missed[0]).toMatchObject({ receivedAt: expect.stringMatching(/^\d{4}-/), event: { type: 'call.missed', subject: callId, dialect: 'audian.v2' } });
    expect((await cli(['events', 'list', '--config', configPath, '--call', 'no-such-call'])).stdout).toBe('');
  });

  it('pages with --cursor, and the admin API answers the same rows', async () => {
    const first = await cli(['events', 'list', '--config', configPath, '--limit', '2']);
    const cursor = /more with --cursor (\d+)/.exec(first.stderr)?.[1];
    expect(cursor, first.stderr).toBeDefined();
    const second = await cli(['events', 'list', '--config', configPath, '--limit', '2', '--cursor', cursor as string]);
    expect(lines<Listed>(second.stdout).map((row) => row.event.type)).toEqual(['call.failed', 'call.ringing']);
    const remote = await viaAdmin(['events', 'list', '--limit', '2', '--cursor', cursor as string]);
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stdout).toBe(second.stdout);
  });

  it('refuses a bad filter with exit 64', async () => {
    const result = await cli(['events', 'list', '--config', configPath, '--since', 'yesterday']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('INVALID_REQUEST');
  });
});

describe('calls', () => {
  it('calls list --phone finds the call by its caller or its callee, written any way', async () => {
    const byCaller = await cli(['calls', 'list', '--config', configPath, '--phone', '+1 (415) 555-2671']);
    expect(byCaller.code, byCaller.stderr).toBe(0);
    expect(lines<{ callId: string; from: string }>(byCaller.stdout)).toEqual([expect.objectContaining({ callId, from: '+14155552671' })]);
    const byCallee = await viaAdmin(['calls', 'list', '--phone', '1-415-555-2672']);
    expect(lines<{ callId: string }>(byCallee.stdout).map((row) => row.callId)).toEqual([callId]);
    expect((await cli(['calls', 'list', '--config', configPath, '--phone', '999 999'])).stdout).toBe('');
    expect((await cli(['calls', 'list', '--config', configPath])).code).toBe(64);
  });

  it('calls show: every event in order with dialect and arrival, the lifecycle decisions, every delivery', async () => {
    const result = await cli(['calls', 'show', callId, '--config', configPath]);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { events: Listed[]; calls: { missed: string; summaryRevision: number }[]; deliveries: { type: string; status: string }[] };
    const types = answer.events.map((row) => row.event.type);
    expect(types.slice(0, 3)).toEqual(['call.initiated', 'call.ringing', 'call.failed']);
    expect(types.slice(3).sort()).toEqual(['call.missed', 'call.summary']);
    expect(answer.events.every((row) => row.event.dialect === 'audian.v2' && /^\d{4}-/.test(row.receivedAt))).toBe(true);
    expect(answer.calls).toEqual([expect.objectContaining({ missed: 'emitted', summaryRevision: 1 })]);
    expect(answer.deliveries.map((row) => row.type)).toEqual(answer.events.map((row) => row.event.type));
    const remote = await viaAdmin(['calls', 'show', callId]);
    expect(JSON.parse(remote.stdout)).toEqual(answer);
    const missing = await cli(['calls', 'show', 'no-such-call', '--config', configPath]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND');
  });

  it('on a terminal, calls show is a readable page: lifecycle, events, deliveries', async () => {
    const page = await runInTerminal(['calls', 'show', callId, '--config', configPath]);
    expect(page).toContain('missed: yes (call.missed derived)');
    expect(page).toContain('summary: revision 1 sent');
    expect(page).toMatch(/RECEIVED\s+TYPE\s+DIALECT/);
    expect(page).toMatch(/call\.missed\s+audian\.v2/);
    expect(page).toMatch(/all -> events\s+delivered/);
  });
});

/** Runs the CLI with its stdout on a pseudo-terminal (util-linux `script`), as an operator types it. */
async function runInTerminal(args: string[]): Promise<string> {
  const { spawn } = await import('node:child_process');
  const { CLI } = await import('../helpers/child-bridge.js');
  const command = [process.execPath, CLI, ...args].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: dir, env: { ...process.env, AUDIAN_BRIDGE_ADMIN_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output).toBe(0);
  return output.replace(/\r\n/g, '\n');
}
