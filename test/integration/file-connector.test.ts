import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const FILE_CONNECTOR = fileURLToPath(new URL('../../dist/connectors/file/index.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'audian-bridge-file-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Sends one delivery through the built file connector in a process of its
 * own. As root, that process runs as `nobody`: root is never refused a write,
 * so only another user meets a real EACCES.
 */
async function sendInChild(path: string): Promise<unknown> {
  const script = `
    const { fileConnector } = await import(${JSON.stringify(FILE_CONNECTOR)});
    const { pino } = await import('pino');
    const options = fileConnector.schema.parse({ type: 'file', path: ${JSON.stringify(path)} });
    const connector = fileConnector.create('file', options, { logger: pino({ level: 'silent' }), fetch, now: Date.now });
    const event = { specversion: '1.0', id: 'evt_eacces', source: 'audian/main', type: 'call.initiated', subject: 'c1', time: '2026-03-01T12:00:00.000Z', datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data: {} };
    const results = await connector.send([{ id: 1, route: 'all', attempt: 1, event }], new AbortController().signal);
    await connector.stop();
    process.stdout.write(JSON.stringify(results[0]));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), ...asNobody });
  return JSON.parse(stdout) as unknown;
}

const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;

/** The other user must be able to read the built code: a checkout inside a private (0700) folder hides it. */
function unreadableToNobody(): string | undefined {
  if (!asNobody) return undefined;
  const check = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(FILE_CONNECTOR)}, require('fs').constants.R_OK)`], asNobody);
  return check.status === 0 ? undefined : `the built connector is not readable by uid 65534 (is the checkout inside a private folder?): ${FILE_CONNECTOR}`;
}
const skipReason = unreadableToNobody();

it.skipIf(skipReason !== undefined)(`EACCES is retriable and the connector's fault (an operator fixes permissions), and the next attempt after the fix is written${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, async () => {
  chmodSync(scratch, 0o755);
  const locked = join(scratch, 'locked');
  mkdirSync(locked, { mode: 0o555 });
  chmodSync(locked, 0o555);
  const path = join(locked, 'events.jsonl');

  expect(await sendInChild(path)).toEqual({ ok: false, retriable: true, error: expect.stringContaining('EACCES'), fault: 'unreachable' });

  chmodSync(locked, 0o777);
  expect(await sendInChild(path)).toEqual({ ok: true });
  expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ id: 'evt_eacces' });
});
