import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaJSConnectionError, KafkaJSNonRetriableError } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { probeAppendable, probeDirectory } from '../../connectors/directory-probe.js';
import { healthSchema } from '../../connectors/http/probe.js';
import { kafkaReason, withoutLeader } from '../../connectors/kafka/probe.js';
import { networkReason, withDeadline } from '../../connectors/probe-reason.js';
import { freePort } from '../../scripts/kafka-broker.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';

const scratch = mkdtempSync(join(tmpdir(), 'audian-bridge-probe-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const never = new AbortController().signal;

/** A connector as the bridge builds it, never started. */
function connector(type: string, options: Record<string, unknown>) {
  const definition = CONNECTORS[type]!;
  return definition.create(type, definition.schema.parse({ type, ...options }), { logger: pino({ level: 'silent' }), fetch: globalThis.fetch, now: Date.now });
}

async function fetchError(url: string): Promise<unknown> {
  try {
    await fetch(url, { method: 'HEAD' });
  } catch (err) {
    return err;
  }
  throw new Error(`${url} answered`);
}

describe('networkReason', () => {
  it('names a refused connection with its address and port', async () => {
    const port = await freePort();
    expect(networkReason(await fetchError(`http://127.0.0.1:${port}/`))).toBe(`ECONNREFUSED at 127.0.0.1:${port}`);
  });

  it('names a name that does not resolve as a DNS failure', async () => {
    expect(networkReason(await fetchError('http://no-such-host.invalid/'))).toMatch(/^DNS failure \((ENOTFOUND|EAI_AGAIN) no-such-host\.invalid\)$/);
  });

  it('names a certificate the client refuses as a TLS error', async () => {
    const key = join(scratch, 'key.pem');
    const cert = join(scratch, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(networkReason(await fetchError(`https://127.0.0.1:${port}/`))).toMatch(/^TLS error \((DEPTH_ZERO_SELF_SIGNED_CERT|ERR_TLS_CERT_ALTNAME_INVALID|SELF_SIGNED_CERT_IN_CHAIN): /);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("names kafkajs's failures the same way, and its connect timeout with the time waited", () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9', { broker: '127.0.0.1:9', code: 'ECONNREFUSED' });
    expect(kafkaReason(Object.assign(new KafkaJSNonRetriableError(refused), { cause: refused }), 3000)).toBe('ECONNREFUSED at 127.0.0.1:9');
    expect(kafkaReason(new KafkaJSConnectionError('Connection timeout', { broker: 'kafka-1:9092' }), 3000)).toBe('connect timeout after 3000 ms at kafka-1:9092');
    const unknown = Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 });
    expect(kafkaReason(unknown, 3000)).toBe('UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition');
  });
});

describe('kafka leaders', () => {
  const partition = (partitionId: number, leader: number) => ({ partitionId, leader, partitionErrorCode: 0, replicas: [1, 2], isr: [1] });

  it('names the partitions without a live leader: none elected (-1), or a broker that is gone', () => {
    const topic = { name: 'audian.calls', partitions: [partition(2, -1), partition(0, 1), partition(1, 3)] };
    expect(withoutLeader(topic, new Set([1, 2]))).toEqual(['topic audian.calls: partition(s) 1, 2 without a leader']);
    expect(withoutLeader(topic, new Set([1, 2, 3]))).toEqual(['topic audian.calls: partition(s) 2 without a leader']);
    expect(withoutLeader({ name: 'ok', partitions: [partition(0, 1)] }, new Set([1]))).toEqual([]);
  });
});

describe('withDeadline', () => {
  it('says how long it waited, or that its caller stopped it', async () => {
    const hang = () => new Promise<never>(() => undefined);
    expect(await withDeadline('HEAD http://x/', 50, never, hang)).toEqual({ ok: false, reason: 'HEAD http://x/: timed out after 50 ms' });
    expect(await withDeadline('HEAD http://x/', 10_000, AbortSignal.timeout(20), hang)).toEqual({ ok: false, reason: 'HEAD http://x/: stopped before an answer' });
  });
});

describe('http probe', () => {
  let target: RecordingServer;
  beforeAll(async () => {
    target = await startRecordingServer();
  });
  afterAll(() => target.close());

  it('sends HEAD / on the origin with the credentials and literal headers, no body, and takes any answer below 500 but 401 and 403', async () => {
    const crm = connector('http', { url: `${target.url}/api/calls/{subject}`, auth: { bearer: 'crm-token' }, headers: { 'X-Tenant': 'acme', 'X-Event': '{type}' } });
    for (const status of [204, 301, 404, 405, 429]) {
      target.respondWith(() => ({ status }));
      expect(await crm.probe(never)).toEqual({ ok: true, detail: `HEAD ${target.url}/ answered HTTP ${status}` });
    }
    const request = target.requests.at(-1)!;
    expect([request.method, request.url, request.body]).toEqual(['HEAD', '/', '']);
    expect(request.headers).toMatchObject({ authorization: 'Bearer crm-token', 'x-tenant': 'acme' });
    expect(request.headers['x-event']).toBeUndefined();
    expect(request.headers['idempotency-key']).toBeUndefined();
    await crm.stop();
  });

  it('fails on 401, 403 and 5xx, naming the status', async () => {
    const crm = connector('http', { url: `${target.url}/calls`, health: { method: 'GET', path: '/health?deep=1' } });
    for (const status of [401, 403, 500, 503]) {
      target.respondWith(() => ({ status }));
      const result = await crm.probe(never);
      expect(result).toEqual({ ok: false, reason: expect.stringContaining(`GET ${target.url}/health?deep=1 answered HTTP ${status}`) });
      if (status < 500) expect(result).toMatchObject({ reason: expect.stringContaining('credentials refused') });
    }
    expect(target.requests.at(-1)).toMatchObject({ method: 'GET', url: '/health?deep=1' });
    await crm.stop();
  });

  it('gives up after its timeout and says so', async () => {
    target.respondWith(() => ({ status: 200, delayMs: 2_000 }));
    const crm = connector('http', { url: `${target.url}/calls`, timeout: '200ms' });
    expect(await crm.probe(never)).toEqual({ ok: false, reason: `HEAD ${target.url}/: timed out after 200 ms` });
    await crm.stop();
  });

  it('health takes a literal path on the target host only', () => {
    for (const path of ['/health', '/', '/status?full=1']) expect(healthSchema.safeParse({ path }).success).toBe(true);
    for (const path of ['health', '//evil.example/x', '/a/{subject}', '/a b', '/a/../b']) expect(healthSchema.safeParse({ path }).success, path).toBe(false);
    expect(healthSchema.safeParse({ method: 'POST' }).success).toBe(false);
  });
});

describe('slack probe', () => {
  let slack: FakeSlack;
  beforeAll(async () => {
    slack = await startFakeSlack();
  });
  afterAll(() => slack.close());

  it('calls auth.test through api_url with the token: ok names the team and user, a refused token its code', async () => {
    expect(await connector('slack', { token: slack.token, channel: 'alerts', api_url: slack.apiUrl }).probe(never)).toEqual({
      ok: true,
      detail: `auth.test at ${slack.apiUrl}: team Test, user audian-bridge`,
    });
    expect(await connector('slack', { token: 'xoxb-wrong', channel: 'alerts', api_url: slack.apiUrl }).probe(never)).toEqual({
      ok: false,
      reason: expect.stringMatching(new RegExp(`^auth\\.test at ${slack.apiUrl.replace(/[.]/g, '\\.')}: invalid_auth: `)),
    });
    expect(slack.calls.map((call) => [call.method, call.authorization])).toEqual([
      ['auth.test', `Bearer ${slack.token}`],
      ['auth.test', 'Bearer xoxb-wrong'],
    ]);
  });

  it('names the HTTP status when api_url is not the Web API', async () => {
    const elsewhere = await startRecordingServer(() => ({ status: 404, body: 'not found' }));
    try {
      expect(await connector('slack', { token: slack.token, channel: 'alerts', api_url: `${elsewhere.url}/api/` }).probe(never)).toEqual({
        ok: false,
        reason: `auth.test at ${elsewhere.url}/api/: HTTP 404 (is api_url right?)`,
      });
    } finally {
      await elsewhere.close();
    }
  });
});

describe('directory probes', () => {
  it('creates a missing directory, writes and removes a file there, and removes what it created', async () => {
    const dir = join(scratch, 'new', 'deeper');
    expect(await probeDirectory(dir)).toEqual({ ok: true, detail: `${dir} is writable` });
    expect(existsSync(join(scratch, 'new'))).toBe(false);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep'), '');
    expect(await probeDirectory(dir)).toMatchObject({ ok: true });
    expect(readdirSync(dir)).toEqual(['keep']);
  });

  it('names the code and the path: a directory under a regular file, a directory where the file should be', async () => {
    const file = join(scratch, 'regular');
    writeFileSync(file, '');
    expect(await probeDirectory(join(file, 'sub'))).toEqual({ ok: false, reason: `ENOTDIR on ${join(file, 'sub')} (cannot create the directory)` });
    expect(await probeAppendable(join(file, 'events.jsonl'))).toEqual({ ok: false, reason: `ENOTDIR on ${file}: a file stands where the directory should be` });
    mkdirSync(join(scratch, 'events.jsonl'));
    expect(await probeAppendable(join(scratch, 'events.jsonl'))).toMatchObject({ ok: false, reason: expect.stringMatching(/^EISDIR on /) });
    expect(await probeAppendable(file)).toEqual({ ok: true, detail: `${file} can be appended to` });
  });
});
