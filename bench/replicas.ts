/**
 * `npm run bench:replicas`: the bridge's full ingest on PostgreSQL, one
 * replica against two replicas on one database behind a round-robin (the load
 * generator's connections split between the two ports), on the same signed,
 * unique POSTs as `npm run bench`. Rounds alternate between the two setups
 * and the figures are medians, because the machines it runs on are noisy.
 *
 *   npm run bench:replicas             3 rounds of BENCH_SECONDS (default 10) each
 *   npm run bench:replicas -- --smoke  one short round: checks that it runs
 *
 * A PostgreSQL server of its own (scripts/postgres.sh, a free port, fsync on),
 * or the superuser URL in BENCH_POSTGRES_URL; each setup gets a fresh database.
 * Environment: BENCH_SECONDS, BENCH_CONNECTIONS (default 50, split evenly).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { databaseUrl, startScriptPostgres, type ScriptPostgres } from '../scripts/postgres-server.js';
import { openStore } from '../src/store/index.js';
import { closedLoop, type LoadResult } from './load.js';
import { webhooks, type Webhook } from './payloads.js';
import { startBridge, type Server } from './processes.js';

const { values: flags } = parseArgs({ options: { smoke: { type: 'boolean', default: false } } });
const SMOKE = flags.smoke === true;
const SECONDS = SMOKE ? 2 : Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = SMOKE ? 1 : 3;

interface Setup {
  readonly name: string;
  readonly replicas: Server[];
  readonly storeUrl: string;
}

interface Round {
  readonly rate: number;
  /** The highest p99 of the replicas' shares of the load: an upper bound of the p99 of all requests. */
  readonly p99: number;
  readonly failed: number;
  readonly perReplica: LoadResult[];
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** One closed-loop round against every replica of `setup` at once, the connections split evenly. */
async function round(setup: Setup, next: () => Webhook, seconds: number): Promise<Round> {
  const share = Math.max(1, Math.floor(CONNECTIONS / setup.replicas.length));
  const perReplica = await Promise.all(setup.replicas.map((replica) => closedLoop(replica.url, next, { seconds, connections: share })));
  return {
    rate: perReplica.reduce((sum, result) => sum + result.rate, 0),
    p99: Math.max(...perReplica.map((result) => result.p99)),
    failed: perReplica.reduce((sum, result) => sum + result.failed, 0),
    perReplica,
  };
}

/** Resolves once the setup's database has no pending delivery, read through the store interface. */
async function drained(storeUrl: string, timeoutMs: number): Promise<void> {
  const store = await openStore({ path: '(unused)', url: storeUrl, poolSize: 1 });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = (await store.pendingStats()).reduce((sum, stats) => sum + stats.n, 0);
      if (pending === 0) return;
      if (Date.now() > deadline) throw new Error(`${pending} deliveries still pending after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await store.close();
  }
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(adminUrl, name);
}

async function startSetup(adminUrl: string, name: string, count: number, dir: string): Promise<Setup> {
  const storeUrl = await createDatabase(adminUrl, `bench_${name}_${Date.now().toString(36)}`);
  const replicas = await Promise.all(
    Array.from({ length: count }, (_, index) => {
      const replicaDir = join(dir, `${name}-${index}`);
      mkdirSync(replicaDir, { recursive: true });
      // As `npm run bench` measures the SQLite store: one file connector with fsync, one per replica.
      return startBridge(replicaDir, { events: { type: 'file', path: join(replicaDir, 'events.jsonl'), fsync: true } }, { store: { url: storeUrl } });
    }),
  );
  return { name, replicas, storeUrl };
}

function show(name: string, result: Round): void {
  console.log(`  ${name.padEnd(34)} ${result.rate.toFixed(0).padStart(7)} req/s   p99 ${result.p99.toFixed(1).padStart(7)} ms   ${result.failed ? `${result.failed} FAILED` : ''}`);
  if (result.failed > 0) throw new Error(`${name}: ${result.failed} requests failed`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-replicas-'));
  const started = new Date();
  console.log(`audian-bridge replica bench${SMOKE ? ' (smoke)' : ''}: ${SECONDS} s rounds, ${CONNECTIONS} connections, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0]!.toFixed(1)}\n`);
  let server: ScriptPostgres | undefined;
  const setups: Setup[] = [];
  try {
    const given = process.env.BENCH_POSTGRES_URL;
    if (!given) server = await startScriptPostgres();
    const adminUrl = given ?? server!.url;
    const one = await startSetup(adminUrl, 'one', 1, dir);
    setups.push(one);
    const two = await startSetup(adminUrl, 'two', 2, dir);
    setups.push(two);
    const next = webhooks('replicas', 1000);

    // Warm-up: connections opened, statements planned, the JIT warm.
    for (const setup of setups) await round(setup, next, 2);
    for (const setup of setups) await drained(setup.storeUrl, 120_000);
    const rounds: { one: Round; two: Round }[] = [];
    for (let index = 1; index <= ROUNDS; index++) {
      const single = await round(one, next, SECONDS);
      show(`round ${index}: 1 replica`, single);
      await drained(one.storeUrl, 120_000);
      const pair = await round(two, next, SECONDS);
      show(`round ${index}: 2 replicas, one database`, pair);
      await drained(two.storeUrl, 120_000);
      rounds.push({ one: single, two: pair });
    }
    const summary = {
      one: { rate: median(rounds.map((r) => r.one.rate)), p99: median(rounds.map((r) => r.one.p99)) },
      two: { rate: median(rounds.map((r) => r.two.rate)), p99: median(rounds.map((r) => r.two.p99)) },
      ratio: median(rounds.map((r) => r.two.rate / r.one.rate)),
    };
    console.log(`\nmedian: 1 replica ${summary.one.rate.toFixed(0)} req/s (p99 ${summary.one.p99.toFixed(1)} ms), 2 replicas ${summary.two.rate.toFixed(0)} req/s (p99 ${summary.two.p99.toFixed(1)} ms): ${summary.ratio.toFixed(2)}×`);
    const results = { date: started.toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), seconds: SECONDS, connections: CONNECTIONS, smoke: SMOKE, rounds, ...summary };
    const out = new URL(`../../bench/results/replicas-${started.toISOString().replace(/[:.]/g, '-')}${SMOKE ? '-smoke' : ''}.json`, import.meta.url);
    mkdirSync(new URL('.', out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`written: ${out.pathname}`);
  } finally {
    for (const setup of setups) await Promise.all(setup.replicas.map((replica) => replica.stop()));
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
