import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/errors.js';
import { createProviderHttp } from '../../src/provider/http.js';
import { createProviderClients } from '../../src/provider/index.js';
import { baseConfig } from '../helpers/bridge.js';
import { runCli } from '../helpers/child-bridge.js';
import { startFakeAudian, type FakeAudian } from '../helpers/fake-audian.js';

/**
 * Calling the provider when it misbehaves: 401, 404, 429 with Retry-After,
 * 500, a malformed answer and a call that hangs, each a clear error with a
 * stable code; the token in no message, log or output, even where the
 * accounts API echoes it; TLS verified, with a CA file for a private PKI.
 */

const TOKEN = 'tok_client_never_printed_b42e';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-provider-client-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let fake: FakeAudian;
let sleeps: number[];
beforeEach(async () => {
  fake = await startFakeAudian({ token: TOKEN });
  sleeps = [];
});
afterEach(async () => {
  await fake.close();
});

function clients(overrides: { token?: string; timeout?: number; retries?: number } = {}) {
  return createProviderClients(
    { url: fake.url, token: overrides.token ?? TOKEN, account_id: fake.accountId, timeout: overrides.timeout ?? 2_000, retries: overrides.retries ?? 2 },
    { sleep: async (ms) => void sleeps.push(ms) },
  );
}

/** The error a call rejects with; it must be the project's own and never hold the token. */
async function failure(call: Promise<unknown>): Promise<BridgeError> {
  const err = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(err).toBeInstanceOf(BridgeError);
  expect(`${(err as Error).message} ${(err as Error).stack}`).not.toContain(TOKEN);
  return err as BridgeError;
}

describe('calls to the provider', () => {
  it('401/403 name provider.token; 404 names the webhook', async () => {
    const refused = await failure(clients({ token: 'tok_wrong' }).webhooks.list());
    expect(refused.code).toBe('PROVIDER_UNAUTHORIZED');
    expect(refused.message).toContain('provider.token');
    fake.inject({ answer: { status: 403 } });
    expect((await failure(clients().webhooks.list())).code).toBe('PROVIDER_UNAUTHORIZED');
    const missing = await failure(clients().webhooks.remove('wh_gone'));
    expect(missing.code).toBe('PROVIDER_NOT_FOUND');
    expect(missing.message).toContain('webhook wh_gone');
    expect(fake.calls.filter((call) => call.token !== undefined).length).toBe(fake.calls.length);
  });

  it('429 is retried after Retry-After, within provider.retries; a Retry-After too long fails at once', async () => {
    fake.inject({ path: /^\/v2\/webhooks$/, times: 2, answer: { status: 429, retryAfter: '2' } });
    expect(await clients().webhooks.list()).toEqual([]);
    expect(sleeps).toEqual([2_000, 2_000]);
    expect(fake.calls).toHaveLength(3);

    fake.inject({ times: 3, answer: { status: 429, retryAfter: '1' } });
    const exhausted = await failure(clients().webhooks.list());
    expect(exhausted.code).toBe('PROVIDER_UNAVAILABLE');
    expect(exhausted.message).toMatch(/answered 429 3 times/);

    fake.inject({ answer: { status: 429, retryAfter: '3600' } });
    const later = await failure(clients().webhooks.list());
    expect(later.code).toBe('PROVIDER_UNAVAILABLE');
    expect(later.message).toContain('asks to wait 3600 s');
  });

  it('5xx is retried with growing backoff, then a clear error; a 500 that passes is not noticed', async () => {
    fake.inject({ answer: { status: 500 } });
    expect(await clients().webhooks.list()).toEqual([]);
    expect(sleeps).toHaveLength(1);
    fake.inject({ times: 3, answer: { status: 503 } });
    sleeps.length = 0;
    const down = await failure(clients().webhooks.list());
    expect(down.code).toBe('PROVIDER_UNAVAILABLE');
    expect(sleeps).toHaveLength(2);
    // Jittered exponential: the second wait's range lies above the first's.
    expect(sleeps[1]!).toBeGreaterThanOrEqual(500);
    expect(sleeps[0]!).toBeLessThanOrEqual(500);
  });

  it('a malformed answer is an error naming the endpoint, never a crash', async () => {
    fake.inject({ answer: 'malformed' });
    const malformed = await failure(clients().webhooks.list());
    expect(malformed.code).toBe('PROVIDER_MALFORMED');
    expect(malformed.message).toContain('GET /v2/webhooks');
    fake.inject({ answer: { status: 200, body: '{"data": [{"id": 7}]}' } });
    const wrongShape = await failure(clients().webhooks.list());
    expect(wrongShape.code).toBe('PROVIDER_MALFORMED');
    expect(wrongShape.message).toContain('data.0.id');
    fake.inject({ answer: { status: 201, body: '{"created": true}' } });
    expect((await failure(clients().webhooks.create({ url: 'https://b.example.com/x', events: ['*'], label: 'audian-bridge:x', enabled: true }))).code).toBe('PROVIDER_MALFORMED');
  });

  it('a call that hangs ends at provider.timeout; a GET is tried again, a create is not', async () => {
    fake.inject({ times: 5, answer: 'hang' });
    const started = Date.now();
    const hung = await failure(clients({ timeout: 300, retries: 1 }).webhooks.list());
    expect(hung.code).toBe('PROVIDER_TIMEOUT');
    expect(hung.message).toContain('provider.timeout');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(fake.calls.filter((call) => call.method === 'GET')).toHaveLength(2);
    const created = await failure(clients({ timeout: 300, retries: 1 }).webhooks.create({ url: 'https://b.example.com/x', events: ['*'], label: 'x', enabled: true }));
    expect(created.code).toBe('PROVIDER_TIMEOUT');
    expect(fake.calls.filter((call) => call.method === 'POST')).toHaveLength(1);
  });

  it('the accounts API echoes auth_token in every answer: no error ever repeats it', async () => {
    fake.inject({ answer: { status: 400, body: JSON.stringify({ auth_token: TOKEN, error: { message: `refused for ${TOKEN}` }, status: 'error' }) } });
    const refused = await failure(clients().accounts!.list());
    expect(refused.code).toBe('PROVIDER_REJECTED');
    expect(refused.message).toContain('refused for ***');
    fake.inject({ answer: { status: 200, body: JSON.stringify({ auth_token: TOKEN, data: 'nope', status: 'success' }) } });
    expect((await failure(clients().accounts!.list())).code).toBe('PROVIDER_MALFORMED');
  });

  it('plain http only on a loopback address', () => {
    expect(() => createProviderHttp({ baseUrl: 'http://api.audian.com:8443', token: TOKEN, timeoutMs: 1_000, retries: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('TLS', () => {
  it('verifies the certificate: a private CA is refused until provider.ca names it', async () => {
    const dir = join(root, 'tls');
    mkdirSync(dir, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      res.writeHead(req.headers['x-auth-token'] === TOKEN ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [], pagination: { page: 1, limit: 100, total: 0 } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const untrusted = createProviderClients({ url, token: TOKEN, timeout: 2_000, retries: 0 });
      const err = await failure(untrusted.webhooks.list());
      expect(err.code).toBe('PROVIDER_UNAVAILABLE');
      expect(err.message).toContain('provider.ca');
      const trusted = createProviderClients({ url, token: TOKEN, timeout: 2_000, retries: 0, ca: readFileSync(join(dir, 'cert.pem'), 'utf8') });
      expect(await trusted.webhooks.list()).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the commands when the provider misbehaves', { timeout: 90_000 }, () => {
  it('each failure exits 1 with its code on stderr (and as JSON with --json); the token appears nowhere', async () => {
    const dir = join(root, 'cli');
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      YAML.stringify(
        baseConfig(dir, {
          provider: { url: fake.url, token: '${AUDIAN_API_TOKEN}', account_id: fake.accountId, timeout: '500ms', retries: 1 },
          subscriptions: [{ name: 'calls', source: 'main', url: 'https://bridge.example.com/webhooks/audian', secret_file: join(dir, 'secrets', 'calls') }],
        }),
      ),
    );
    const plan = (extra: string[] = [], token = TOKEN) => runCli(['subscriptions', 'plan', ...extra, '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: token } });
    // The webhooks API's list (the accounts API's is asked at the same time).
    const LIST = /^\/v2\/webhooks$/;
    const cases: [string, () => void, string][] = [
      ['401', () => fake.inject({ path: LIST, answer: { status: 401 } }), 'PROVIDER_UNAUTHORIZED'],
      ['500', () => fake.inject({ path: LIST, times: 2, answer: { status: 500 } }), 'PROVIDER_UNAVAILABLE'],
      ['malformed', () => fake.inject({ path: LIST, answer: 'malformed' }), 'PROVIDER_MALFORMED'],
      ['hang', () => fake.inject({ path: LIST, times: 2, answer: 'hang' }), 'PROVIDER_TIMEOUT'],
    ];
    for (const [name, inject, code] of cases) {
      inject();
      const result = await plan();
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain(code);
      expect(result.stdout + result.stderr, name).not.toContain(TOKEN);
    }
    fake.inject({ path: LIST, answer: { status: 401 } });
    const asJson = await plan(['--json']);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: 'PROVIDER_UNAUTHORIZED' } });
    const checked = await runCli(['check', '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN } });
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain('calls  webhooks API -> source main  https://bridge.example.com/webhooks/audian');
    expect(checked.stdout + checked.stderr).not.toContain(TOKEN);
    const wrong = await plan([], 'tok_wrong_one');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('provider.token');
  });
});
