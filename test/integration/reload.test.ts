import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, describe, expect, inject, it, onTestFinished } from 'vitest';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { baseConfig, postWebhook, readEvents, TEST_SECRET } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer } from '../helpers/http-server.js';
import { createTopics, readTopics, uniqueName } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../../scripts/kafka-broker.js';

/**
 * Hot reload against the bridge as a process: SIGHUP while signed webhooks
 * flow, with a good and with a bad file; POST /admin/reload; a live-only key
 * refused; a secret read from a file and rotated.
 */

const OLD = 'whsec_old_secret';
const SHARED = 'whsec_shared_secret';
const NEW = 'whsec_new_secret';
const TOKEN = 'admin-token-for-reload-tests-0123';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-reload-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let running: ChildBridge[] = [];
afterEach(async () => {
  for (const bridge of running) await stopChildBridge(bridge);
  running = [];
});

function dirFor(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writeConfig(path: string, dir: string, overrides: Record<string, unknown>): void {
  writeFileSync(path, YAML.stringify(baseConfig(dir, { dispatch: { retry_schedule: ['50ms'], poll_interval: '100ms' }, ...overrides })));
}

const source = (secrets: string[]) => [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets, tolerance: '300s' } } }];

async function start(configPath: string | undefined, options: Parameters<typeof startChildBridge>[1] = {}): Promise<ChildBridge> {
  const bridge = await startChildBridge(configPath, options);
  running.push(bridge);
  return bridge;
}

let calls = 0;
const nextCall = () => audianV2Calls.initiated(`c-reload-${process.pid}-${++calls}`, { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());
const post = (bridge: ChildBridge, secret: string, body: Record<string, unknown> = nextCall()) => postWebhook(`${bridge.url}/webhooks/audian`, body, { secret });

/**
 * Signed webhooks in four lanes, and /readyz beside them, until `after()` has
 * been true for 40 more answers (at most 2000 requests in all): the reload
 * happens while requests are in flight. Resolves with every status seen.
 */
async function flowAround(bridge: ChildBridge, secret: string, after: () => boolean) {
  const statuses: number[] = [];
  const ready: number[] = [];
  let afterwards = 0;
  const more = () => statuses.length < 2000 && afterwards < 40;
  const lane = async () => {
    while (more()) {
      const seen = after();
      const { status } = await post(bridge, secret);
      statuses.push(status);
      if (seen) afterwards++;
    }
  };
  const readiness = async () => {
    while (more()) ready.push((await fetch(`${bridge.url}/readyz`)).status);
  };
  await Promise.all([lane(), lane(), lane(), lane(), readiness()]);
  return { statuses, ready, afterwards };
}

const logged = (bridge: ChildBridge, message: string) => bridge.output().includes(`"msg":"${message}`);

async function metric(url: string, line: string, token?: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {})).text();
  return text.split('\n').find((candidate) => candidate.startsWith(line));
}

async function adminReload(bridge: ChildBridge) {
  const response = await fetch(`${bridge.adminUrl}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('SIGHUP', () => {
  it('with a valid file while webhooks flow: no request fails, /readyz stays 200, the new routes and secrets are in force after', async () => {
    const dir = dirFor('sighup-good');
    const configPath = join(dir, 'config.yaml');
    const admin = { port: 0, token: TOKEN };
    writeConfig(configPath, dir, { admin, sources: source([OLD, SHARED]) });
    const bridge = await start(configPath);

    const flow = flowAround(bridge, SHARED, () => logged(bridge, 'config reloaded'));
    await waitFor(() => readEvents(join(dir, 'events.jsonl')).length >= 10, { what: 'webhooks flowing' });
    writeConfig(configPath, dir, {
      admin,
      sources: source([SHARED, NEW]),
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') }, extra: { type: 'file', path: join(dir, 'extra.jsonl') } },
      routes: [
        { name: 'all', to: 'events' },
        { name: 'calls', match: { type: 'call.*' }, to: 'extra' },
      ],
    });
    bridge.process.kill('SIGHUP');
    const { statuses, ready, afterwards } = await flow;
    expect(afterwards, bridge.output()).toBeGreaterThanOrEqual(40);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(ready.filter((status) => status !== 200)).toEqual([]);

    const late = nextCall();
    expect((await post(bridge, NEW, late)).status).toBe(200);
    const refused = await post(bridge, OLD);
    expect([refused.status, refused.body.error?.code]).toEqual([401, 'SIGNATURE_MISMATCH']);
    await waitFor(() => readEvents(join(dir, 'extra.jsonl')).some((event) => event.id === late.id), { what: 'the new route delivering to the new connector' });
    expect(await metric(bridge.url, 'audian_bridge_config_reloads_total{outcome="applied"}')).toBe('audian_bridge_config_reloads_total{outcome="applied"} 1');
    // The signal is in the audit, as a reload by the API or the console is.
    const audit = (await (await fetch(`${bridge.adminUrl}/admin/audit`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { entries: { action: string; actor: { via: string; who: string } }[] };
    expect(audit.entries.filter((entry) => entry.action === 'reload').map((entry) => entry.actor)).toEqual([{ via: 'signal', who: 'SIGHUP' }]);
  });

  it('with an invalid file while webhooks flow: no request fails, the running config stays, the issues are logged and counted', async () => {
    const dir = dirFor('sighup-bad');
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, { sources: source([OLD]) });
    const bridge = await start(configPath);
    const before = await metric(bridge.url, 'audian_bridge_config_last_reload_success_timestamp_seconds');

    const flow = flowAround(bridge, OLD, () => logged(bridge, 'config reload failed'));
    await waitFor(() => readEvents(join(dir, 'events.jsonl')).length >= 10, { what: 'webhooks flowing' });
    writeConfig(configPath, dir, { sources: source([NEW]), routes: [{ name: 'all', to: 'nowhere' }] });
    bridge.process.kill('SIGHUP');
    const { statuses, ready, afterwards } = await flow;
    expect(afterwards, bridge.output()).toBeGreaterThanOrEqual(40);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(ready.filter((status) => status !== 200)).toEqual([]);

    const failure = bridge.output().split('\n').find((line) => line.includes('"msg":"config reload failed'));
    expect(JSON.parse(failure!)).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(JSON.stringify(JSON.parse(failure!).issues)).toContain('routes[0].to');
    expect((await post(bridge, OLD)).status).toBe(200);
    expect((await post(bridge, NEW)).status).toBe(401);
    expect(await metric(bridge.url, 'audian_bridge_config_reloads_total{outcome="invalid"}')).toBe('audian_bridge_config_reloads_total{outcome="invalid"} 1');
    expect(await metric(bridge.url, 'audian_bridge_config_last_reload_success_timestamp_seconds')).toBe(before);
  });
});

describe('POST /admin/reload', () => {
  it('answers the issues of a bad file (422) and the live-only keys it refuses (409), keeping the running config; a good one keeps unchanged connectors running, restarts a changed one and reports the deliveries a removed one left', async () => {
    const dir = dirFor('admin');
    const configPath = join(dir, 'config.yaml');
    const admin = { port: 0, token: TOKEN };
    const events = { type: 'file', path: join(dir, 'events.jsonl') };
    // Nothing listens on port 9: the crm deliveries wait in the outbox.
    const crm = { type: 'http', url: 'http://127.0.0.1:9/calls/{subject}' };
    // Each Slack connector calls auth.test when it starts: a restart shows as a second call with its token.
    const slack = await startRecordingServer(() => ({ status: 200, body: JSON.stringify({ ok: true, team: 'T', user: 'U' }) }));
    onTestFinished(() => slack.close());
    const slackConnector = (token: string, channel: string) => ({ type: 'slack', token, channel, api_url: `${slack.url}/api/` });
    const starts = (token: string) => slack.requests.filter((request) => request.url.endsWith('/auth.test') && request.headers.authorization === `Bearer ${token}`).length;
    const kept = slackConnector('xoxb-kept-token', 'C1');
    const connectors = { events, kept, swapped: slackConnector('xoxb-swapped-token', 'C1') };
    writeConfig(configPath, dir, { admin, connectors: { ...connectors, crm }, routes: [{ name: 'all', to: ['events', 'crm'] }] });
    const bridge = await start(configPath);
    await waitFor(() => starts('xoxb-kept-token') === 1 && starts('xoxb-swapped-token') === 1, { what: 'both Slack connectors started' });
    for (let i = 0; i < 2; i++) expect((await post(bridge, TEST_SECRET)).status).toBe(200);

    writeConfig(configPath, dir, { admin, connectors: { ...connectors, events: { ...events, colour: 'blue' }, crm }, routes: [{ name: 'all', to: ['events', 'crm'] }] });
    const bad = await adminReload(bridge);
    expect([bad.status, bad.body.reloaded, bad.body.error.code]).toEqual([422, false, 'CONFIG_INVALID']);
    expect(JSON.stringify(bad.body.error.issues)).toContain('connectors.events.colour');

    writeConfig(configPath, dir, { admin, server: { host: '127.0.0.1', port: 1 }, store: { path: join(dir, 'other.db') }, connectors: { events }, routes: [{ name: 'all', to: 'events' }] });
    const refused = await adminReload(bridge);
    expect([refused.status, refused.body.reloaded, refused.body.error.code]).toEqual([409, false, 'CONFIG_NOT_RELOADABLE']);
    expect(refused.body.error.issues.map((issue: { path: string; code: string }) => [issue.path, issue.code])).toEqual([
      ['server.port', 'CONFIG_NOT_RELOADABLE'],
      ['store.path', 'CONFIG_NOT_RELOADABLE'],
    ]);
    // Still the first config: crm still gets deliveries.
    const unchanged = await post(bridge, TEST_SECRET);
    expect(unchanged.body.deliveries).toBe(2);

    writeConfig(configPath, dir, { admin, connectors: { ...connectors, swapped: slackConnector('xoxb-swapped-token', 'C2') }, routes: [{ name: 'all', to: 'events' }] });
    const good = await adminReload(bridge);
    expect([good.status, good.body.reloaded]).toEqual([200, true]);
    expect(good.body.connectors).toEqual({ added: [], replaced: ['swapped'], removed: ['crm'], kept: ['events', 'kept'] });
    await waitFor(() => starts('xoxb-swapped-token') === 2, { what: 'the replaced Slack connector started again' });
    expect(starts('xoxb-kept-token')).toBe(1);
    expect(good.body.orphaned).toEqual([{ connector: 'crm', pending: 3 }]);
    await waitFor(() => logged(bridge, 'connector removed with deliveries still in the outbox'), { what: 'the removed connector reported in the log' });
    expect((await post(bridge, TEST_SECRET)).body.deliveries).toBe(1);
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    for (const [outcome, n] of [['applied', 1], ['invalid', 1], ['refused', 1]] as const) {
      expect(await metric(bridge.adminUrl!, `audian_bridge_config_reloads_total{outcome="${outcome}"}`, TOKEN)).toBe(`audian_bridge_config_reloads_total{outcome="${outcome}"} ${n}`);
    }
  });

  it('rotates a secret read from a file (${file:...}): the new one accepted, the old one refused after', async () => {
    const dir = dirFor('file-secret');
    const secretPath = join(dir, 'webhook-secret');
    writeFileSync(secretPath, `${OLD}\n`);
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, { admin: { port: 0, token: TOKEN }, sources: source([`\${file:${secretPath}}`]) });
    const bridge = await start(configPath);
    expect((await post(bridge, OLD)).status).toBe(200);
    expect((await post(bridge, NEW)).status).toBe(401);

    writeFileSync(secretPath, `${NEW}\n`);
    const answer = await adminReload(bridge);
    expect([answer.status, answer.body.connectors?.kept]).toEqual([200, ['events']]);
    expect((await post(bridge, NEW)).status).toBe(200);
    const old = await post(bridge, OLD);
    expect([old.status, old.body.error?.code]).toEqual([401, 'SIGNATURE_MISMATCH']);

    rmSync(secretPath);
    const missing = await adminReload(bridge);
    expect([missing.status, missing.body.error?.code]).toEqual([422, 'CONFIG_INVALID']);
    expect(JSON.stringify(missing.body.error.issues)).toContain(secretPath);
    expect((await post(bridge, NEW)).status).toBe(200);
  });
});

const lines = (bridge: ChildBridge, message: string) => bridge.output().split('\n').filter((line) => line.includes(`"msg":"${message}`)).map((line) => JSON.parse(line) as Record<string, any>);

describe('the file a reload reads', () => {
  it('is the ./config.yaml found at start: removed, a SIGHUP fails (CONFIG_NOT_FOUND) and never applies the embedded default; unsigned webhooks stay refused', async () => {
    const dir = dirFor('implicit-sighup');
    // Every key that cannot change live is as the embedded default has it, so nothing but the fix refuses the default.
    writeFileSync(
      join(dir, 'config.yaml'),
      YAML.stringify({
        server: { host: '127.0.0.1', port: '${PORT}' },
        sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET] } } }],
        connectors: { events: { type: 'file', path: './data/events.jsonl' } },
        routes: [{ name: 'all-events', to: 'events' }],
      }),
    );
    const bridge = await start(undefined, { cwd: dir, env: { PORT: String(await freePort()), AUDIAN_WEBHOOK_SECRET: '', AUDIAN_BRIDGE_CONFIG: '' } });
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, nextCall(), { sign: false })).status).toBe(401);

    rmSync(join(dir, 'config.yaml'));
    bridge.process.kill('SIGHUP');
    await waitFor(() => logged(bridge, 'config reload failed'), { what: 'the reload failing' });
    expect(lines(bridge, 'config reload failed')[0]).toMatchObject({ code: 'CONFIG_NOT_FOUND' });
    expect(logged(bridge, 'config reloaded')).toBe(false);
    const unsigned = await postWebhook(`${bridge.url}/webhooks/audian`, nextCall(), { sign: false });
    expect([unsigned.status, unsigned.body.error?.code]).toEqual([401, 'SIGNATURE_MISSING']);
    expect((await post(bridge, TEST_SECRET)).status).toBe(200);
  });

  it('POST /admin/reload with the file gone answers 422 CONFIG_NOT_FOUND and keeps the running config', async () => {
    const dir = dirFor('implicit-admin');
    writeConfig(join(dir, 'config.yaml'), dir, { admin: { port: 0, token: TOKEN } });
    const bridge = await start(undefined, { cwd: dir, env: { AUDIAN_BRIDGE_CONFIG: '' } });
    rmSync(join(dir, 'config.yaml'));
    const answer = await adminReload(bridge);
    expect([answer.status, answer.body.reloaded, answer.body.error?.code]).toEqual([422, false, 'CONFIG_NOT_FOUND']);
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, nextCall(), { sign: false })).status).toBe(401);
    expect((await post(bridge, TEST_SECRET)).status).toBe(200);
  });

  it('refuses a source path that differs from another only in case, keeping the running sources', async () => {
    const dir = dirFor('case-paths');
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, { admin: { port: 0, token: TOKEN } });
    const bridge = await start(configPath);
    writeConfig(configPath, dir, {
      admin: { port: 0, token: TOKEN },
      sources: [
        { name: 'lab', path: '/Webhooks/Audian', verify: { none: true } },
        { name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET] } } },
      ],
    });
    const answer = await adminReload(bridge);
    expect([answer.status, answer.body.error?.code]).toEqual([422, 'CONFIG_INVALID']);
    expect(answer.body.error.issues).toContainEqual(expect.objectContaining({ path: 'sources[1].path', code: 'CONFIG_DUPLICATE' }));
    const unsigned = await postWebhook(`${bridge.url}/webhooks/audian`, nextCall(), { sign: false });
    expect(unsigned.status).toBe(401);
  });
});

/** Whether the process listens for SIGHUP now (bit 1 of SigCgt in /proc/PID/status). */
function catchesHangup(pid: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

describe.skipIf(process.platform !== 'linux')('SIGHUP while the bridge starts', () => {
  it('is held, not fatal: the bridge comes up, is ready, and reloads once for every SIGHUP of its start-up', async () => {
    const dir = dirFor('sighup-starting');
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, {});
    const sent: number[] = [];
    let loadedBeforeFirst: boolean | undefined;
    // Node itself ends the process on a SIGHUP until JavaScript listens for it (its own start-up: 50-250 ms here);
    // from then on, which must be before the CLI even reads its config, none may end it.
    const hangUp = async (child: ChildProcess) => {
      const spawned = Date.now();
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await waitFor(() => catchesHangup(child.pid!), { intervalMs: 1, timeoutMs: 10_000, what: 'the process listening for SIGHUP' });
      loadedBeforeFirst = stdout.includes('"msg":"configuration loaded"');
      for (const delay of [0, 20, 20]) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        child.kill('SIGHUP');
        sent.push(Date.now() - spawned);
      }
    };
    let signalling: Promise<void> | undefined;
    const bridge = await start(configPath, { onSpawn: (child) => (signalling = hangUp(child)) });
    await signalling;
    expect(sent).toHaveLength(3);
    expect(loadedBeforeFirst, 'the first SIGHUP was sent before the config was even loaded').toBe(false);
    await waitFor(() => logged(bridge, 'config reloaded'), { what: 'the reload asked for during start-up' });
    expect(lines(bridge, 'SIGHUP received while starting; reloading once now')).toEqual([expect.objectContaining({ signals: 3 })]);
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    expect((await post(bridge, TEST_SECRET)).status).toBe(200);
    expect(lines(bridge, 'reloading the config').map((line) => line.trigger)).toEqual(['SIGHUP']);
    expect(await metric(bridge.url, 'audian_bridge_config_reloads_total{outcome="applied"}')).toBe('audian_bridge_config_reloads_total{outcome="applied"} 1');
  });
});

describe.skipIf(process.platform === 'win32')('${file:...} naming a FIFO', () => {
  it('fails a reload in bounded time, naming the key, while /healthz answers within 1 s', async () => {
    const dir = dirFor('fifo-reload');
    const secretPath = join(dir, 'webhook-secret');
    writeFileSync(secretPath, `${OLD}\n`);
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, { admin: { port: 0, token: TOKEN }, sources: source([`\${file:${secretPath}}`]) });
    const bridge = await start(configPath);
    rmSync(secretPath);
    execFileSync('mkfifo', [secretPath]);

    const began = Date.now();
    let answered = false;
    const reload = adminReload(bridge).finally(() => (answered = true));
    bridge.process.kill('SIGHUP');
    const health: number[] = [];
    while (!answered || health.length < 5) {
      const asked = Date.now();
      const response = await fetch(`${bridge.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      expect(response.status).toBe(200);
      health.push(Date.now() - asked);
      if (Date.now() - began > 8_000) break;
    }
    const answer = await reload;
    expect(Date.now() - began).toBeLessThan(8_000);
    expect(Math.max(...health)).toBeLessThan(1_000);
    expect([answer.status, answer.body.error?.code]).toEqual([422, 'CONFIG_INVALID']);
    const [issue] = answer.body.error.issues as { path: string; code: string; message: string }[];
    expect([issue!.path, issue!.code]).toEqual(['sources[0].verify.hmac.secrets[0]', 'CONFIG_BAD_VALUE']);
    expect(issue!.message).toMatch(/FIFO/);
    await waitFor(() => lines(bridge, 'config reload failed').length === 2, { what: 'the SIGHUP reload failing too' });
    expect((await post(bridge, OLD)).status).toBe(200);
  });

  it('at start: the process exits 2 at once, naming the key and the FIFO', async () => {
    const dir = dirFor('fifo-start');
    const secretPath = join(dir, 'webhook-secret');
    execFileSync('mkfifo', [secretPath]);
    const configPath = join(dir, 'config.yaml');
    writeConfig(configPath, dir, { sources: source([`\${file:${secretPath}}`]) });
    let child: ChildProcess | undefined;
    const failure = await startChildBridge(configPath, { onSpawn: (spawned) => (child = spawned), timeoutMs: 10_000 }).then(
      (bridge) => {
        running.push(bridge);
        return undefined;
      },
      (err: Error) => err,
    );
    if (child?.exitCode === null) child.kill('SIGKILL');
    expect(failure?.message).toContain('bridge exited (2)');
    expect(failure?.message).toContain('sources[0].verify.hmac.secrets[0]');
    expect(failure?.message).toMatch(/FIFO/);
  });
});

const kafka = inject('kafka');

describe.skipIf(kafka.brokers === null)(`a connector that cannot start${kafka.skipReason ? ` — SKIPPED: ${kafka.skipReason}` : ''}`, () => {
  it('holds neither its reload nor the next: each answers within 2 s naming it, its deliveries wait without an attempt, and go out once it starts', async () => {
    // Accepts connections and never answers: kafkajs waits its request timeout, retries, and waits again.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const silentBroker = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const topic = uniqueName('reload-start');
    await createTopics(kafka.brokers!, [topic], { partitions: 1 });

    const dir = dirFor('silent-kafka');
    const configPath = join(dir, 'config.yaml');
    const configure = (brokers: string, clientId: string) =>
      writeConfig(configPath, dir, {
        admin: { port: 0, token: TOKEN },
        server: { host: '127.0.0.1', port: 0, shutdown_timeout: '3s' },
        connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') }, stream: { type: 'kafka', brokers, topic, client_id: clientId } },
        routes: [{ name: 'all', to: ['events', 'stream'] }],
      });
    configure(kafka.brokers!, 'first');
    const bridge = await start(configPath);

    configure(silentBroker, 'silent-1');
    const timed = async () => {
      const began = Date.now();
      const answer = await adminReload(bridge);
      return { ...answer, ms: Date.now() - began };
    };
    const first = await timed();
    expect([first.status, first.body.connectors?.replaced, first.body.starting]).toEqual([200, ['stream'], ['stream']]);
    expect(first.ms).toBeLessThan(2_000);
    await waitFor(() => logged(bridge, 'connector not started yet'), { what: 'the connector reported in the log' });

    const call = nextCall();
    expect((await post(bridge, TEST_SECRET, call)).status).toBe(200);
    const stream = async () => {
      const response = await fetch(`${bridge.adminUrl}/admin/deliveries?connector=stream`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await response.json()) as { deliveries: { eventId: string; status: string; attempts: number }[] }).deliveries.find((row) => row.eventId === call.id);
    };
    await waitFor(() => readEvents(join(dir, 'events.jsonl')).some((event) => event.id === call.id), { what: 'the other connector delivering' });
    expect(await stream()).toMatchObject({ status: 'pending', attempts: 0 });

    // The connector still starting is replaced: this reload does not wait for its start() either.
    configure(silentBroker, 'silent-2');
    const second = await timed();
    expect([second.status, second.body.starting]).toEqual([200, ['stream']]);
    expect(second.ms).toBeLessThan(2_000);
    expect(await stream()).toMatchObject({ status: 'pending', attempts: 0 });

    configure(kafka.brokers!, 'again');
    const third = await timed();
    expect(third.status).toBe(200);
    expect(third.ms).toBeLessThan(2_000);
    await waitFor(async () => (await stream())?.status === 'delivered', { timeoutMs: 20_000, what: 'the waiting delivery sent once the connector started' });
    const messages = await readTopics(kafka.brokers!, [topic], (seen) => seen.some((message) => message.value?.includes(String(call.id))), { what: 'the event in Kafka' });
    expect(messages.filter((message) => message.value?.includes(String(call.id)))).toHaveLength(1);
  });
});
