import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { freePort } from '../../scripts/kafka-broker.js';
import { CLI, runCli } from '../helpers/child-bridge.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { createTopics, deleteCreatedTopics, listTopics, uniqueName } from '../helpers/kafka.js';

/**
 * `audian-bridge check --connect` as an operator runs it: the built CLI, a
 * config file, and real targets of each kind, reachable and not: a Kafka
 * broker and a closed port, the Slack stand-in, local HTTP servers, writable
 * and unwritable directories.
 */
const kafka = inject('kafka');
const scratch = mkdtempSync(join(tmpdir(), 'audian-bridge-connect-'));

interface Check {
  readonly connector: string;
  readonly type: string;
  readonly ok: boolean;
  readonly detail?: string;
  readonly reason?: string;
}

function writeConfig(name: string, connectors: Record<string, Record<string, unknown>>): string {
  const path = join(scratch, `${name}.yaml`);
  const config = {
    sources: [{ name: 'main', verify: { none: true } }],
    store: { path: join(scratch, 'bridge.db') },
    connectors,
    routes: [{ name: 'all', to: Object.keys(connectors) }],
  };
  writeFileSync(path, YAML.stringify(config));
  return path;
}

async function checkConnect(config: string, extra: string[] = []): Promise<{ code: number | null; checks: Map<string, Check>; stderr: string }> {
  const result = await runCli(['check', '--connect', '--json', '--config', config, ...extra], { cwd: scratch });
  const parsed = JSON.parse(result.stdout || '{"connectors":[]}') as { ok: boolean; connectors: Check[] };
  expect(parsed.ok, result.stdout).toBe(result.code === 0);
  return { code: result.code, checks: new Map(parsed.connectors.map((check) => [check.connector, check])), stderr: result.stderr };
}

const describeKafka = describe.skipIf(kafka.skipReason !== null);
let slack: FakeSlack;
let crm: RecordingServer;
let closedPort: number;
beforeAll(async () => {
  slack = await startFakeSlack();
  crm = await startRecordingServer((request) => ({ status: request.headers.authorization === 'Bearer crm-token' ? 204 : 401 }));
  closedPort = await freePort();
});
afterAll(async () => {
  await Promise.all([slack?.close(), crm?.close()]);
  rmSync(scratch, { recursive: true, force: true });
});

describe('check --connect: Slack, http, file and transcript', () => {
  it('reachable targets: exit 0, ok for each, and nothing sent or left behind', async () => {
    const out = join(scratch, 'reachable');
    const config = writeConfig('reachable', {
      alerts: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl },
      crm: { type: 'http', url: `${crm.url}/api/calls/{subject}`, auth: { bearer: 'crm-token' } },
      status: { type: 'http', url: `${crm.url}/api/calls`, auth: { bearer: 'crm-token' }, health: { method: 'GET', path: '/health' } },
      log: { type: 'file', path: join(out, 'events', 'events.jsonl') },
      transcripts: { type: 'transcript', dir: join(out, 'transcripts') },
    });
    mkdirSync(out);
    const { code, checks } = await checkConnect(config);
    expect(code).toBe(0);
    expect([...checks.values()].map((check) => [check.connector, check.ok])).toEqual([
      ['alerts', true],
      ['crm', true],
      ['status', true],
      ['log', true],
      ['transcripts', true],
    ]);
    expect(checks.get('alerts')!.detail).toContain('team Test');
    expect(checks.get('crm')!.detail).toBe(`HEAD ${crm.url}/ answered HTTP 204`);
    expect(checks.get('status')!.detail).toBe(`GET ${crm.url}/health answered HTTP 204`);
    expect(slack.calls.map((call) => call.method)).toEqual(['auth.test']);
    expect(slack.posts()).toHaveLength(0);
    expect(crm.requests.map((request) => [request.method, request.url, request.body]).sort()).toEqual([
      ['GET', '/health', ''],
      ['HEAD', '/', ''],
    ]);
    // The folders the probes created for the check are gone again.
    expect(readdirSync(out)).toEqual([]);
  });

  it('unreachable targets: exit 1, and each says why', async () => {
    const regular = join(scratch, 'a-file');
    writeFileSync(regular, '');
    const config = writeConfig('unreachable', {
      alerts: { type: 'slack', token: 'xoxb-revoked', channel: 'alerts', api_url: slack.apiUrl },
      gone: { type: 'slack', token: slack.token, channel: 'alerts', api_url: `http://127.0.0.1:${closedPort}/api/` },
      refused: { type: 'http', url: `http://127.0.0.1:${closedPort}/calls` },
      unauthorized: { type: 'http', url: `${crm.url}/calls`, auth: { bearer: 'wrong' } },
      log: { type: 'file', path: join(regular, 'events.jsonl') },
      transcripts: { type: 'transcript', dir: join(regular, 'transcripts') },
    });
    const { code, checks } = await checkConnect(config);
    expect(code).toBe(1);
    expect([...checks.values()].every((check) => !check.ok)).toBe(true);
    expect(checks.get('alerts')!.reason).toMatch(/: invalid_auth: /);
    expect(checks.get('gone')!.reason).toBe(`auth.test at http://127.0.0.1:${closedPort}/api/: ECONNREFUSED at 127.0.0.1:${closedPort}`);
    expect(checks.get('refused')!.reason).toBe(`HEAD http://127.0.0.1:${closedPort}/: ECONNREFUSED at 127.0.0.1:${closedPort}`);
    expect(checks.get('unauthorized')!.reason).toMatch(new RegExp(`^HEAD ${crm.url}/ answered HTTP 401: credentials refused`));
    expect(checks.get('log')!.reason).toBe(`ENOTDIR on ${regular}: a file stands where the directory should be`);
    expect(checks.get('transcripts')!.reason).toBe(`ENOTDIR on ${join(regular, 'transcripts')} (cannot create the directory)`);
  });

  it('prints one line per connector, ok or FAIL, with a summary', async () => {
    const config = writeConfig('text', {
      alerts: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl },
      refused: { type: 'http', url: `http://127.0.0.1:${closedPort}/calls` },
    });
    const result = await runCli(['check', '--connect', '--config', config], { cwd: scratch });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ {2}ok {4}alerts \(slack\) {2}auth\.test at .*: team Test, user audian-bridge {2}\[\d+ ms\]$/m);
    expect(result.stdout).toMatch(new RegExp(`^  FAIL  refused \\(http\\)  HEAD http://127\\.0\\.0\\.1:${closedPort}/: ECONNREFUSED at 127\\.0\\.0\\.1:${closedPort}  \\[\\d+ ms\\]$`, 'm'));
    expect(result.stdout).toContain('1 of 2 connector(s) failed');
  });

  it('a target that does not answer in time: its own timeout is named, and --timeout bounds it', async () => {
    // It would answer long after the test's deadline: the CLI must end without that answer.
    const slow = await startRecordingServer(() => ({ status: 200, delayMs: 25_000 }));
    try {
      const config = writeConfig('slow', {
        own: { type: 'http', url: `${slow.url}/calls`, timeout: '300ms' },
        bounded: { type: 'http', url: `${slow.url}/calls`, timeout: '30s' },
      });
      const started = Date.now();
      const { code, checks } = await checkConnect(config, ['--timeout', '1s']);
      expect(code).toBe(1);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(checks.get('own')!.reason).toBe(`HEAD ${slow.url}/: timed out after 300 ms`);
      expect(checks.get('bounded')!.reason).toBe(`HEAD ${slow.url}/: stopped before an answer within 1000 ms (--timeout)`);
    } finally {
      await slow.close();
    }
  });

  it('a variable a connector uses must be set: exit 2 naming its key, and nothing is probed', async () => {
    const path = join(scratch, 'unset.yaml');
    writeFileSync(path, `sources: [{ name: main, verify: { none: true } }]\nconnectors: { crm: { type: http, url: "${crm.url}/x", auth: { bearer: "\${CRM_TOKEN}" } } }\nroutes: [{ name: all, to: crm }]\n`);
    const before = crm.requests.length;
    const result = await runCli(['check', '--connect', '--config', path], { cwd: scratch, env: { CRM_TOKEN: undefined } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/connectors\.crm\.auth\.bearer: .*CRM_TOKEN.* \[CONFIG_ENV_MISSING\]/);
    expect(crm.requests.length).toBe(before);
  });

  it('a variable only the admin listener uses may be unset: the connectors are probed', async () => {
    const path = join(scratch, 'admin-unset.yaml');
    writeFileSync(path, `sources: [{ name: main, verify: { none: true } }]\nadmin: { port: 0, token: "\${ADMIN_TOKEN}" }\nconnectors: { crm: { type: http, url: "${crm.url}/x", auth: { bearer: crm-token } } }\nroutes: [{ name: all, to: crm }]\n`);
    const result = await runCli(['check', '--connect', '--config', path], { cwd: scratch, env: { ADMIN_TOKEN: undefined } });
    expect(result.stderr).not.toContain('CONFIG_ENV_MISSING');
    expect(result.code).toBe(0);
  });

  it('an invalid config still exits 2, and nothing is probed', async () => {
    const path = join(scratch, 'invalid.yaml');
    writeFileSync(path, `sources: [{ name: main, verify: { none: true } }]\nconnectors: { crm: { type: http, url: "${crm.url}/x", health: { path: "//elsewhere/x" } } }\nroutes: [{ name: all, to: crm }]\n`);
    const before = crm.requests.length;
    const result = await runCli(['check', '--connect', '--config', path], { cwd: scratch });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('connectors.crm.health.path');
    expect(crm.requests.length).toBe(before);
  });
});

/** Root is never refused a write: the unwritable directory is met by the CLI run as `nobody`. */
const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
function nobodyCannotRun(): string | undefined {
  if (!asNobody) return undefined;
  const check = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(CLI)}, require('fs').constants.R_OK)`], asNobody);
  return check.status === 0 ? undefined : `the built CLI is not readable by uid 65534: ${CLI}`;
}
const nobodySkip = nobodyCannotRun();

it.skipIf(nobodySkip !== undefined)(`check --connect: a directory this user may not write is EACCES on its path${nobodySkip ? ` — SKIPPED: ${nobodySkip}` : ''}`, async () => {
  chmodSync(scratch, 0o755);
  const locked = join(scratch, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o555);
  const config = writeConfig('locked', {
    log: { type: 'file', path: join(locked, 'events.jsonl') },
    transcripts: { type: 'transcript', dir: join(locked, 'transcripts') },
  });
  chmodSync(config, 0o644);
  const run = promisify(execFile);
  const failed = await run(process.execPath, [CLI, 'check', '--connect', '--json', '--config', config], { cwd: locked, ...asNobody }).then(
    () => undefined,
    (err: { code: number; stdout: string }) => err,
  );
  expect(failed?.code).toBe(1);
  const checks = (JSON.parse(failed!.stdout) as { connectors: Check[] }).connectors;
  expect(checks.map((check) => check.reason)).toEqual([`EACCES on ${locked} (cannot write in the directory)`, `EACCES on ${join(locked, 'transcripts')} (cannot create the directory)`]);
});

describeKafka(`check --connect: Kafka${kafka.skipReason ? ` — SKIPPED: ${kafka.skipReason}` : ''}`, () => {
  const prefix = uniqueName('probe');
  beforeAll(() => createTopics(kafka.brokers!, [`${prefix}.calls`, `${prefix}.t.call.missed`, `${prefix}.t.call.summary`], { partitions: 2 }));
  afterAll(() => deleteCreatedTopics(kafka.brokers!));

  it('a reachable broker: a leader for every partition of the topic, and of each existing topic a template matches', async () => {
    const config = writeConfig('kafka-ok', {
      fixed: { type: 'kafka', brokers: kafka.brokers, topic: `${prefix}.calls` },
      templated: { type: 'kafka', brokers: kafka.brokers, topic: `${prefix}.t.{type}` },
    });
    const { code, checks } = await checkConnect(config);
    expect(code).toBe(0);
    expect(checks.get('fixed')!.detail).toMatch(new RegExp(`: topic ${prefix}\\.calls: 2 partition\\(s\\), each with a leader$`));
    expect(checks.get('templated')!.detail).toContain(`topic template ${prefix}.t.{type}: 2 existing topic(s) match it (${prefix}.t.call.missed, ${prefix}.t.call.summary)`);
  });

  it('a closed port, and a missing topic the connector may not create: exit 1 with the reason', async () => {
    const config = writeConfig('kafka-down', {
      closed: { type: 'kafka', brokers: `127.0.0.1:${closedPort}`, topic: `${prefix}.calls` },
      missing: { type: 'kafka', brokers: kafka.brokers, topic: `${prefix}.missing`, allow_auto_topic_creation: false },
      creatable: { type: 'kafka', brokers: kafka.brokers, topic: `${prefix}.later` },
    });
    const { code, checks } = await checkConnect(config);
    expect(code).toBe(1);
    expect(checks.get('closed')!.reason).toBe(`brokers 127.0.0.1:${closedPort}: ECONNREFUSED at 127.0.0.1:${closedPort}`);
    expect(checks.get('missing')!.reason).toContain(`topic ${prefix}.missing does not exist, and allow_auto_topic_creation is off`);
    // A topic the connector may have created is ok, and the probe did not create it.
    expect(checks.get('creatable')).toMatchObject({ ok: true, detail: expect.stringContaining(`topic ${prefix}.later does not exist yet`) });
    expect(await listTopics(kafka.brokers!)).not.toContain(`${prefix}.later`);
  });
});
