import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { baseConfig, postWebhook } from '../helpers/bridge.js';
import { CLI } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let child: ChildProcess | undefined;
let hanging: RecordingServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-shutdown-'));
  hanging = await startRecordingServer(() => ({ status: 200, delayMs: 600_000 })); // accepts, never answers in time
});
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});
afterAll(async () => {
  await hanging.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts `serve` with its stdout on a pipe and learns its URL from the first
 * lines; after that the test decides what happens to the pipe.
 */
async function serve(name: string, overrides: Record<string, unknown>): Promise<{ process: ChildProcess; url: string; exited: Promise<{ code: number | null; at: number }> }> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, YAML.stringify(baseConfig(join(dir, name), overrides)));
  const started = spawn(process.execPath, [CLI, 'serve', '--config', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  child = started;
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => started.once('exit', (code) => resolve({ code, at: Date.now() })));
  let seen = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /"url":"(http:[^"]+)"/.exec(seen);
      if (match) {
        started.stdout!.off('data', onData);
        started.stdout!.pause(); // from here on nobody reads it
        resolve(match[1]!);
      }
    };
    started.stdout!.on('data', onData);
    void exited.then(() => reject(new Error(`exited before listening:\n${seen}`)));
  });
  return { process: started, url, exited };
}

it('SIGTERM ends the process within shutdown_timeout while nobody reads its stdout', async () => {
  const bridge = await serve('unread', { log: { level: 'debug' }, server: { host: '127.0.0.1', port: 0, shutdown_timeout: '2s' } });
  // Well over a pipe's buffer of log lines, none of them read.
  for (let index = 0; index < 600; index++) {
    const answer = await postWebhook(`${bridge.url}/webhooks/audian`, { id: `evt_unread_${index}`, timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: `call_${index}` } });
    expect(answer.status).toBe(200);
  }
  const signalled = Date.now();
  bridge.process.kill('SIGTERM');
  const { code, at } = await bridge.exited;
  expect(code).toBe(0);
  expect(at - signalled).toBeLessThan(2_000 + 500);
}, 60_000);

it('SIGTERM ends the process when its stdout was closed', async () => {
  const bridge = await serve('closed', { log: { level: 'debug' }, server: { host: '127.0.0.1', port: 0, shutdown_timeout: '2s' } });
  bridge.process.stdout!.destroy();
  for (let index = 0; index < 50; index++) {
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, { id: `evt_closed_${index}`, timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: `c${index}` } })).status).toBe(200);
  }
  const signalled = Date.now();
  bridge.process.kill('SIGTERM');
  const { at } = await bridge.exited;
  expect(at - signalled).toBeLessThan(2_000 + 500);
}, 60_000);

it('a send that hangs is cut off at shutdown_timeout, and a second signal exits at once', async () => {
  const overrides = (timeout: string) => ({
    server: { host: '127.0.0.1', port: 0, shutdown_timeout: timeout },
    dispatch: { send_timeout: '10m' },
    connectors: { crm: { type: 'http', url: `${hanging.url}/events` } },
    routes: [{ name: 'all', to: 'crm' }],
  });
  const send = async (url: string, id: string) => {
    const before = hanging.requests.length;
    expect((await postWebhook(`${url}/webhooks/audian`, { id, timestamp: '2026-03-01T12:00:00Z', event: 'call.initiated', data: { call_id: id } })).status).toBe(200);
    await waitFor(() => hanging.requests.length > before, { what: 'the send in flight' });
  };

  const patient = await serve('deadline', overrides('1500ms'));
  await send(patient.url, 'evt_deadline');
  let signalled = Date.now();
  patient.process.kill('SIGTERM');
  let { at } = await patient.exited;
  expect(at - signalled).toBeLessThan(1_500 + 500);

  const impatient = await serve('twice', overrides('60s'));
  await send(impatient.url, 'evt_twice');
  impatient.process.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the first signal is being handled
  signalled = Date.now();
  impatient.process.kill('SIGTERM');
  const second = await impatient.exited;
  ({ at } = second);
  expect(second.code).toBe(130);
  expect(at - signalled).toBeLessThan(1_000);
}, 60_000);
