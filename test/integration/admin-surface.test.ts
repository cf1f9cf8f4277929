import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { openRawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The admin listener under attack and misuse, with the bridge as a process:
 * idle connections that hold the cap, failed logins and odd methods in the
 * logs, bodies refused before they are read, wrong methods, ids no double
 * holds, keys that name a prototype, and replay filters without a status.
 */

const TOKEN = 'admin-token-for-surface-0123456789';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-admin-surface-'));
const configPath = join(root, 'config.yaml');
let bridge: ChildBridge;
let adminUrl: string;

beforeAll(async () => {
  writeFileSync(
    configPath,
    YAML.stringify(
      baseConfig(join(root, 'data'), {
        admin: { port: 0, token: '${TEST_ADMIN_TOKEN}' },
        connectors: { events: { type: 'file', path: join(root, 'data', 'events.jsonl') }, crm: { type: 'file', path: join(root, 'data', 'crm.jsonl') } },
        routes: [{ name: 'all', to: ['events', 'crm'] }],
      }),
    ),
  );
  bridge = await startChildBridge(configPath, { env: { TEST_ADMIN_TOKEN: TOKEN } });
  if (!bridge.adminUrl) throw new Error(`no admin API:\n${bridge.output()}`);
  adminUrl = bridge.adminUrl;
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  rmSync(root, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly code: string | undefined;
  readonly message: string;
  readonly body: Record<string, unknown>;
}

/** An admin request with the token; `body` is sent as written (a string keeps digits JSON.stringify would round). */
async function admin(method: string, path: string, body?: string | object, headers: Record<string, string> = {}): Promise<Answer> {
  const text = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(text === undefined ? {} : { body: text }),
    signal: AbortSignal.timeout(5_000),
  });
  const answer = JSON.parse(await response.text()) as Record<string, any>;
  return { status: response.status, headers: response.headers, code: answer.error?.code, message: answer.error?.message ?? '', body: answer };
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

const logs = (): LogLine[] =>
  bridge
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

/** Absence cannot be polled for: long enough for a line the process would write to arrive. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('connections', () => {
  it('64 idle connections without a token do not lock an operator out, and are closed after a short header timeout', async () => {
    const idle = await Promise.all(Array.from({ length: 64 }, () => openRawClient(adminUrl)));
    // Half send nothing, half the start of a request that never ends.
    idle.forEach((client, index) => index % 2 === 1 && client.socket.write('GET /admin/deliveries HTTP/1.1\r\nHost: admin\r\n'));
    await settle();
    const started = Date.now();
    const answer = await admin('GET', '/admin/deliveries');
    expect(answer.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3_000);
    // Far shorter than server.request_timeout (60 s here).
    await waitFor(() => idle.every((client) => client.closed()), { what: 'every idle connection closed', timeoutMs: 9_000, intervalMs: 100 });
  }, 20_000);
});

describe('logs', () => {
  it('a failed admin login is logged at warn with the client address, rate-limited, never with the token presented', async () => {
    const presented = 'presented-but-wrong-token-0042';
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${adminUrl}/admin/deliveries`, { headers: i % 2 === 0 ? { authorization: `Bearer ${presented}` } : {} });
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    const refused = await waitFor(() => {
      const lines = logs().filter((line) => line.msg === 'admin request refused: not authorized');
      return lines.length > 0 && lines;
    }, { what: 'the failed login in the log' });
    await settle();
    expect(logs().filter((line) => line.msg === refused[0]!.msg)).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40, ip: expect.stringMatching(/127\.0\.0\.1$/), method: 'GET', path: '/admin/deliveries' });
    expect(bridge.output()).not.toContain(presented);
  });

  it('an unknown method on the webhook port is a rate-limited warning, not an error each time', async () => {
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${bridge.url}/`, { method: 'PURGE' });
      expect(response.status).toBe(501);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_IMPLEMENTED');
    }
    const warned = await waitFor(() => {
      const lines = logs().filter((line) => line.method === 'PURGE');
      return lines.length > 0 && lines;
    }, { what: 'the PURGE in the log' });
    await settle();
    expect(logs().filter((line) => line.method === 'PURGE')).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, code: 'NOT_IMPLEMENTED' });
    expect(logs().filter((line) => line.level >= 50)).toEqual([]);
  });
});

describe('bodies', () => {
  it('a declared Content-Length over the limit is 413 at once, before a byte of the body', async () => {
    const client = await openRawClient(adminUrl);
    const started = Date.now();
    client.socket.write(
      ['POST /admin/deliveries/replay HTTP/1.1', 'Host: admin', `Authorization: Bearer ${TOKEN}`, 'Content-Type: application/json', 'Content-Length: 99999999999', '', ''].join('\r\n'),
    );
    await waitFor(() => client.closed(), { what: 'the answer and the connection closed', timeoutMs: 5_000 });
    // The body timeout would have answered 408 after 10 s.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(client.received()).toContain('"code":"BODY_TOO_LARGE"');
  });

  it('a Content-Encoding other than identity is 415 UNSUPPORTED_CONTENT_ENCODING, as on the webhook port', async () => {
    const compressed = await fetch(`${adminUrl}/admin/deliveries/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{"status": "dead"}'),
    });
    expect(compressed.status).toBe(415);
    expect(((await compressed.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_CONTENT_ENCODING');
    const deflate = await admin('POST', '/admin/connectors/crm/pause', undefined, { 'content-encoding': 'deflate' });
    expect([deflate.status, deflate.code]).toEqual([415, 'UNSUPPORTED_CONTENT_ENCODING']);
    // Refused before the pause took effect.
    expect((await admin('POST', '/admin/connectors/crm/resume')).body).toMatchObject({ changed: false });
  });
});

describe('methods', () => {
  it('a known path with the wrong method is 405 METHOD_NOT_ALLOWED naming the allowed ones', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/admin/deliveries/replay', 'POST'],
      ['GET', '/admin/reload', 'POST'],
      ['GET', '/admin/connectors/crm/pause', 'POST'],
      ['POST', '/admin/deliveries', 'GET'],
      ['DELETE', '/admin/deliveries/1', 'GET'],
    ];
    for (const [method, path, allowed] of cases) {
      const answer = await admin(method, path);
      expect([method, path, answer.status, answer.code]).toEqual([method, path, 405, 'METHOD_NOT_ALLOWED']);
      expect(answer.headers.get('allow'), `${method} ${path}`).toContain(allowed);
    }
  });
});

describe('ids beyond 2^53', () => {
  it('in a replay body: 400 ID_OUT_OF_RANGE naming the field, the digits not echoed in an internal form', async () => {
    for (const body of ['{"ids": [9999999999999999]}', '{"ids": [1, "9007199254740993"]}', '{"ids": [99999999999999999999]}']) {
      const answer = await admin('POST', '/admin/deliveries/replay', body);
      expect([body, answer.status, answer.code]).toEqual([body, 400, 'ID_OUT_OF_RANGE']);
      expect(answer.message).toMatch(/ids\[[01]\]/);
      expect(answer.message).not.toContain('digits');
    }
  });

  it('in a cursor or a delivery id: 400 ID_OUT_OF_RANGE, not a rounded id', async () => {
    for (const path of ['/admin/deliveries?cursor=9007199254740993', '/admin/deliveries/9007199254740993', '/admin/deliveries/99999999999999999999']) {
      const answer = await admin('GET', path);
      expect([path, answer.status, answer.code]).toEqual([path, 400, 'ID_OUT_OF_RANGE']);
    }
    expect((await admin('GET', '/admin/deliveries/9007199254740991')).code).toBe('NOT_FOUND');
  });

  it('in the CLI, on the local database and through the admin API: a clear error, usage exit code', async () => {
    const local = (...args: string[]) => runCli([...args, '--config', configPath], { env: { TEST_ADMIN_TOKEN: TOKEN } });
    const remote = (...args: string[]) => runCli([...args, '--admin', adminUrl], { env: { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN } });
    for (const run of [local, remote]) {
      for (const args of [['deliveries', 'show', '9007199254740993'], ['deliveries', '--cursor', '9007199254740993'], ['replay', '9007199254740993']]) {
        const result = await run(...args);
        expect([args.join(' '), result.code]).toEqual([args.join(' '), 64]);
        expect(result.stderr).toContain('ID_OUT_OF_RANGE');
        expect(result.stderr).not.toContain('9007199254740992');
      }
    }
  });
});

describe('filters', () => {
  it('__proto__, constructor and prototype are unknown filters like any other: 400 INVALID_REQUEST', async () => {
    for (const key of ['color', '__proto__', 'constructor', 'prototype']) {
      const answer = await admin('GET', `/admin/deliveries?${key}=x`);
      expect([key, answer.status, answer.code]).toEqual([key, 400, 'INVALID_REQUEST']);
      expect(answer.message).toContain(key);
    }
  });

  it('a replay filter without a status is refused with REPLAY_STATUS_REQUIRED, in the API and the CLI', async () => {
    for (const body of [{ connector: 'crm' }, { route: 'all', since: '1h' }]) {
      const answer = await admin('POST', '/admin/deliveries/replay', body);
      expect([answer.status, answer.code]).toEqual([400, 'REPLAY_STATUS_REQUIRED']);
      expect(answer.message).toContain('status');
    }
    expect((await admin('POST', '/admin/deliveries/replay', { connector: 'crm', status: 'dead' })).body).toEqual({ queued: 0, ids: [], skipped: [] });

    const local = await runCli(['replay', '--connector', 'crm', '--config', configPath], { env: { TEST_ADMIN_TOKEN: TOKEN } });
    const remote = await runCli(['replay', '--connector', 'crm', '--admin', adminUrl], { env: { AUDIAN_BRIDGE_ADMIN_TOKEN: TOKEN } });
    for (const result of [local, remote]) {
      expect([result.code, result.stdout]).toEqual([64, '']);
      expect(result.stderr).toContain('REPLAY_STATUS_REQUIRED');
      expect(result.stderr).toContain('--status dead');
    }
  });
});
