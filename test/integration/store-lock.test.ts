import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { baseConfig, postWebhook } from '../helpers/bridge.js';
import { CLI, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';

let dir: string;
let configPath: string;
const running: ChildBridge[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-lock-'));
  configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, YAML.stringify(baseConfig(dir, { log: { level: 'info' } })));
});
afterAll(async () => {
  for (const bridge of running) await stopChildBridge(bridge, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI to its end. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

it('a second process on the same SQLite file refuses to start; the CLI keeps working; a crash releases the file', async () => {
  const first = await startChildBridge(configPath);
  running.push(first);
  const event = { id: 'evt_lock', timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: 'call_lock' } };
  expect((await postWebhook(`${first.url}/webhooks/audian`, event)).status).toBe(200);

  const second = await cli(['serve', '--config', configPath]);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain('STORE_LOCKED');
  expect(second.stderr).toContain(join(dir, 'bridge.db'));

  // Read and maintenance commands open the file beside the running bridge.
  const listed = await cli(['deliveries', '--config', configPath]);
  expect(listed.code).toBe(0);
  expect(listed.stdout).toContain('evt_lock');
  expect((await cli(['retry', '--config', configPath, '999999'])).stdout).toContain('0 of 1 deliveries queued again');

  // The first still serves.
  expect((await fetch(`${first.url}/readyz`)).status).toBe(200);

  // The operating system drops the lock with the process, however it ends.
  first.process.kill('SIGKILL');
  await first.exited;
  const next = await startChildBridge(configPath);
  running.push(next);
  expect((await postWebhook(`${next.url}/webhooks/audian`, event)).body).toMatchObject({ duplicate: true });
}, 60_000);
