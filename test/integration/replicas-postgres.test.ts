import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { signAudianRequest } from '../../src/verify/index.js';
import { baseConfig, postWebhook, TEST_SECRET, type PostResult } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { orderPerCall, startOrderedSink, type OrderedSink, type OrderedSinkOptions } from '../helpers/ordered-sink.js';
import { createDatabase, postgresEnv, skipNote, startScriptPostgres, type ScriptPostgres, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two bridge processes on one PostgreSQL database, each receiving webhooks
 * and dispatching (docs/stores.md, "Running replicas"): dedupe is global, a call's
 * deliveries to a connector leave one at a time in acceptance order whichever
 * replica accepted and whichever sends, a replica killed mid-send costs a
 * resend after its lease and nothing else, each missed call is decided once,
 * and both ride out the database going away.
 */

const { url: adminUrl, skipReason, ownServerSkipReason } = postgresEnv();
const ADMIN_TOKEN = 'replica-admin-token-0123456789';
const REPLICAS = ['a', 'b'] as const;
/** The types the tests send; derived events go by routes of their own. */
const SENT_TYPES = ['call.initiated', 'call.ringing', 'call.answered', 'call.held', 'call.resumed', 'call.completed', 'call.failed'];

interface Replica extends ChildBridge {
  readonly name: string;
  readonly configPath: string;
  post(body: unknown): Promise<PostResult>;
}

interface Cluster {
  readonly replicas: Replica[];
  readonly sink: OrderedSink;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** `audian.v2` body of one call event (seed 001's shape) at `at`. */
function callEvent(callId: string, type: string, index: number, data: Record<string, unknown> = {}, at = Date.now()) {
  return { id: `evt_${callId}_${index}_${type.replace('.', '_')}`, timestamp: new Date(at).toISOString(), event: type, data: { call_id: callId, ...data } };
}

/**
 * Starts the sink and one bridge process per replica name on `storeUrl`, at
 * the same time (their migrations race, as replicas deployed together do).
 * Each replica's `http` connector names it in `X-Replica`, so the sink can
 * tell who sent what.
 */
async function startCluster(storeUrl: string, options: { sink?: OrderedSinkOptions; config?: Record<string, unknown>; routes?: unknown[] } = {}): Promise<Cluster> {
  const sink = await startOrderedSink(options.sink);
  cleanups.push(() => sink.close());
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-replicas-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const replicas = await Promise.all(
    REPLICAS.map(async (name) => {
      const path = join(dir, `${name}.yaml`);
      const config = baseConfig(dir, {
        // store.path is ignored with store.url; a file per replica would show if it were not.
        store: { url: storeUrl, path: join(dir, `${name}.db`) },
        lifecycle: { missed_call_grace: '300ms' },
        dispatch: { retry_initial: '50ms', retry_max: '500ms', poll_interval: '100ms', send_timeout: '2s' },
        admin: { token: ADMIN_TOKEN, port: 0 },
        connectors: { sink: { type: 'http', url: `${sink.url}/calls/{subject}`, headers: { 'X-Replica': name }, timeout: '2s', concurrency: 4 } },
        routes: options.routes ?? [{ name: 'calls', match: { type: SENT_TYPES }, to: 'sink' }],
        ...options.config,
      });
      writeFileSync(path, YAML.stringify(config));
      const bridge = await startChildBridge(path, { timeoutMs: 30_000 });
      cleanups.push(async () => void (await stopChildBridge(bridge, 'SIGKILL')));
      return { ...bridge, name, configPath: path, post: (body: unknown) => postWebhook(`${bridge.url}/webhooks/audian`, body) };
    }),
  );
  return { replicas, sink };
}

async function freshDatabase(serverUrl: string): Promise<TestDatabase> {
  const database = await createDatabase(serverUrl, 'audian_replicas');
  cleanups.push(() => database.drop());
  return database;
}

/** The sink connector's deliveries as the store lists them (through a replica's admin API). */
async function storedDeliveries(replica: Replica, query = ''): Promise<{ eventId: string; type: string; status: string; route: string; callId: string | null }[]> {
  const response = await fetch(`${replica.adminUrl}/admin/deliveries?connector=sink&limit=1000${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { deliveries: never[] }).deliveries;
}

/**
 * Sends each call's events one after another (each waits for the previous
 * 200, so acceptance order is this order), event k of call c to replica
 * (c + k) mod 2, all calls at once. Resolves with the acknowledged event ids per call.
 */
async function sendInterleaved(replicas: readonly Replica[], calls: readonly (readonly Record<string, unknown>[])[]): Promise<Map<string, string[]>> {
  const acknowledged = new Map<string, string[]>();
  await Promise.all(
    calls.map(async (events, call) => {
      for (const [index, event] of events.entries()) {
        const answer = await replicas[(call + index) % replicas.length]!.post(event);
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        expect(answer.body.duplicate).toBeUndefined();
        const callId = String((event.data as { call_id: string }).call_id);
        acknowledged.set(callId, [...(acknowledged.get(callId) ?? []), answer.body.id as string]);
      }
    }),
  );
  return acknowledged;
}

/** Six events of one outbound call, in the order they happen. */
function callLife(callId: string): Record<string, unknown>[] {
  const start = Date.now();
  return ['call.initiated', 'call.ringing', 'call.answered', 'call.held', 'call.resumed', 'call.completed'].map((type, index) =>
    callEvent(callId, type, index, index === 0 ? { call_type: 'outbound', from: '+14155550100', to: '+14155550199' } : {}, start + index * 1000),
  );
}

describe.skipIf(adminUrl === null)(`two bridge processes on one PostgreSQL database${skipNote(skipReason)}`, () => {
  it('the same events sent to both replicas at the same moment are stored and delivered once', async () => {
    const database = await freshDatabase(adminUrl!);
    const { replicas, sink } = await startCluster(database.url);
    const events = Array.from({ length: 30 }, (_, index) => callEvent(`dup_${index % 10}`, 'call.initiated', index, { call_type: 'outbound' }));

    const answers = await Promise.all(events.map((event) => Promise.all(replicas.map((replica) => replica.post(event)))));
    for (const [index, pair] of answers.entries()) {
      for (const answer of pair) expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      // One replica stored it, the other answered it as the duplicate it is.
      expect(pair.map((answer) => answer.body.duplicate === true).sort(), `event ${index}`).toEqual([false, true]);
      expect(pair.map((answer) => answer.body.id)).toEqual([events[index]!.id, events[index]!.id]);
    }

    const ids = events.map((event) => event.id);
    await waitFor(() => ids.every((id) => sink.delivered.some((arrival) => arrival.eventId === id)), { timeoutMs: 20_000, what: 'every event at the sink' });
    // The store's own account: one delivery per event, every one delivered, so nothing more will be sent.
    const stored = await waitFor(async () => {
      const rows = await storedDeliveries(replicas[0]!);
      return rows.length === ids.length && rows.every((row) => row.status === 'delivered') && rows;
    }, { what: 'one delivered delivery per event in the store' });
    expect(stored.map((row) => row.eventId).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(sink.arrivals.filter((arrival) => arrival.eventId === id), id).toHaveLength(1);

    // The operator commands read the same database through store.url, from outside either process.
    const listed = await runCli(['deliveries', '--config', replicas[1]!.configPath, '--connector', 'sink', '--limit', '100']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { eventId: string; status: string });
    expect(rows.map((row) => row.eventId).sort()).toEqual([...ids].sort());
    expect(rows.every((row) => row.status === 'delivered')).toBe(true);
  }, 60_000);

  it('20 calls with interleaved events sent to both replicas arrive in per-call order at one connector, one at a time', async () => {
    const database = await freshDatabase(adminUrl!);
    // A few milliseconds per answer, so that many calls' deliveries are in flight together.
    const { replicas, sink } = await startCluster(database.url, { sink: { delayMs: () => Math.floor(Math.random() * 10) } });
    const calls = Array.from({ length: 20 }, (_, call) => callLife(`order_${call}`));

    const acknowledged = await sendInterleaved(replicas, calls);
    const total = calls.flat().length;
    await waitFor(() => sink.delivered.length >= total, { timeoutMs: 30_000, what: `${total} deliveries at the sink (have ${sink.delivered.length})` });

    expect(sink.overlaps).toEqual([]);
    expect(orderPerCall(sink.delivered)).toEqual(acknowledged);
    expect(sink.arrivals).toHaveLength(total);
    // Both replicas dispatch, not only the one that happens to hold a lock.
    for (const name of REPLICAS) expect(sink.delivered.filter((arrival) => arrival.replica === name).length, `deliveries sent by ${name}`).toBeGreaterThan(0);
  }, 90_000);

  it('a replica killed mid-send: every acknowledged event is still delivered, by the other, in per-call order', async () => {
    const database = await freshDatabase(adminUrl!);
    // Replica a's requests are never answered: whatever it claims, it is in the middle of sending when it dies.
    const { replicas, sink } = await startCluster(database.url, {
      sink: { hold: (arrival) => arrival.replica === 'a' },
      // A short send timeout: a's leases (send_timeout plus the dispatcher's margin of 30 s) lapse as soon as they can.
      config: { dispatch: { retry_initial: '50ms', retry_max: '500ms', poll_interval: '100ms', send_timeout: '1s' } },
    });
    const [a, b] = replicas as [Replica, Replica];
    const calls = Array.from({ length: 10 }, (_, call) => callLife(`kill_${call}`).slice(0, 4));

    const acknowledged = await sendInterleaved(replicas, calls);
    await waitFor(() => sink.held() > 0, { what: 'replica a in the middle of a send' });
    a.process.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');

    const ids = [...acknowledged.values()].flat();
    await waitFor(() => ids.every((id) => sink.delivered.some((arrival) => arrival.eventId === id)), {
      timeoutMs: 75_000,
      what: `all ${ids.length} acknowledged events delivered (have ${new Set(sink.delivered.map((arrival) => arrival.eventId)).size})`,
    });
    expect(sink.delivered.every((arrival) => arrival.replica === 'b')).toBe(true);
    expect(sink.overlaps).toEqual([]);
    expect(orderPerCall(sink.delivered)).toEqual(acknowledged);
    // What a was sending when it died went out again (at least once), from b.
    const resent = sink.arrivals.filter((arrival) => arrival.replica === 'a').map((arrival) => arrival.eventId);
    expect(resent.length).toBeGreaterThan(0);
    for (const id of resent) expect(sink.delivered.some((arrival) => arrival.eventId === id)).toBe(true);
    expect(b.process.exitCode).toBeNull();
  }, 120_000);

  it('exactly one call.missed per missed call when its events went to both replicas', async () => {
    const database = await freshDatabase(adminUrl!);
    const { replicas, sink } = await startCluster(database.url, {
      routes: [
        { name: 'missed', match: { type: 'call.missed' }, to: 'sink' },
        { name: 'summaries', match: { type: 'call.summary' }, to: 'sink' },
      ],
    });
    const inbound = { call_type: 'inbound', from: '+14155550100', to: '+14155550199' };
    const missed = Array.from({ length: 10 }, (_, call) => [callEvent(`missed_${call}`, 'call.initiated', 0, inbound), callEvent(`missed_${call}`, 'call.failed', 1, { status: 'failed', reason: 'no_answer', reason_code: 408 })]);
    const answered = Array.from({ length: 4 }, (_, call) => [callEvent(`taken_${call}`, 'call.initiated', 0, inbound), callEvent(`taken_${call}`, 'call.answered', 1), callEvent(`taken_${call}`, 'call.completed', 2, { status: 'completed' })]);

    await sendInterleaved(replicas, [...missed, ...answered]);
    const callIds = [...missed, ...answered].map((events) => String(events[0]!.data.call_id));
    // A summary for every call: both replicas' sweeps have been past every call's grace.
    await waitFor(() => callIds.every((id) => sink.delivered.some((arrival) => arrival.type === 'call.summary' && arrival.callId === id)), {
      timeoutMs: 30_000,
      what: 'a call.summary of every call at the sink',
    });
    await waitFor(async () => (await storedDeliveries(replicas[1]!, '&status=pending')).length === 0, { what: 'nothing pending' });

    const missedArrivals = sink.arrivals.filter((arrival) => arrival.type === 'call.missed');
    expect(missedArrivals.map((arrival) => arrival.callId).sort()).toEqual(missed.map((events) => String(events[0]!.data.call_id)).sort());
    const storedMissed = await storedDeliveries(replicas[0]!, '&route=missed');
    expect(storedMissed).toHaveLength(missed.length);
  }, 90_000);
});

describe.skipIf(ownServerSkipReason !== null)(`two replicas while PostgreSQL goes away and comes back${skipNote(ownServerSkipReason)}`, () => {
  it('webhooks answer 503 with Retry-After and /readyz turns 503 while it is down; both recover by themselves', async () => {
    // A server of this test's own: stopping it touches nobody else's.
    const server: ScriptPostgres = await startScriptPostgres();
    cleanups.push(() => server.destroy());
    const database = await createDatabase(server.url, 'audian_outage');
    const { replicas, sink } = await startCluster(database.url);

    const before = await Promise.all(replicas.map((replica, index) => replica.post(callEvent(`outage_${index}`, 'call.initiated', 0, { call_type: 'outbound' }))));
    expect(before.map((answer) => answer.status)).toEqual([200, 200]);

    await server.stop();
    for (const [index, replica] of replicas.entries()) {
      const refused = await waitFor(async () => {
        const answer = await fetch(`${replica.url}/webhooks/audian`, signedRequest(callEvent(`outage_${index}`, 'call.ringing', 1)));
        return answer.status === 503 && answer;
      }, { timeoutMs: 20_000, what: `replica ${replica.name} answering 503 while the database is down` });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('STORE_UNAVAILABLE');
      await waitFor(async () => (await fetch(`${replica.url}/readyz`)).status === 503, { timeoutMs: 20_000, what: `replica ${replica.name} /readyz 503` });
      expect(replica.process.exitCode).toBeNull();
    }

    await server.restart();
    for (const replica of replicas) {
      await waitFor(async () => (await fetch(`${replica.url}/readyz`)).status === 200, { timeoutMs: 30_000, what: `replica ${replica.name} ready again` });
    }
    // The provider's retry of what was refused now lands, on either replica.
    const after = await Promise.all(replicas.map((replica, index) => replica.post(callEvent(`outage_${index}`, 'call.ringing', 1))));
    expect(after.map((answer) => answer.status)).toEqual([200, 200]);
    const ids = [...before, ...after].map((answer) => answer.body.id as string);
    await waitFor(() => ids.every((id) => sink.delivered.some((arrival) => arrival.eventId === id)), { timeoutMs: 30_000, what: 'every acknowledged event delivered after the recovery' });
  }, 120_000);
});

/** A signed POST of `body` for `fetch`, to read the raw answer (headers included). */
function signedRequest(body: unknown): RequestInit {
  const raw = JSON.stringify(body);
  return { method: 'POST', headers: { 'content-type': 'application/json', ...signAudianRequest(raw, TEST_SECRET) }, body: raw };
}
