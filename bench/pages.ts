/**
 * The console's pages on a big store, and what keeping the raw request
 * (`store.keep_raw`) costs per webhook; both written into the bench's JSON
 * by run.ts.
 *
 * Pages: a SQLite store of 1,000,000 deliveries (20 000 with --smoke) built
 * with SQL (scale-store.ts), and a PostgreSQL one where BENCH_POSTGRES_URL
 * names a database to build it in (a schema of its own, dropped after);
 * every read of page-reads.ts timed (the median of a few runs after one to
 * warm up), and each page's time as the sum of its reads.
 *
 * keep_raw: two bridges as deployed, one with keep_raw on and one off, the
 * same signed POSTs in alternating closed-loop rounds: requests per second,
 * CPU per webhook, and the bytes each event's row and the file take.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../src/store/index.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import Database from '../src/store/sqlite/driver.js';
import { closedLoop, type LoadResult } from './load.js';
import { PAGE_READS, type ScaleFacts } from './page-reads.js';
import { webhooks } from './payloads.js';
import { drained, startBridge, type Server } from './processes.js';
import { buildPostgresScale, buildSqliteScale } from './scale-store.js';

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

export interface PagesOptions {
  readonly smoke: boolean;
}

interface ReadTime {
  readonly name: string;
  readonly ms: number;
}

/** Each read's median time on `store`, in ms. */
async function timeReads(store: Store, facts: ScaleFacts, runs: number): Promise<ReadTime[]> {
  const times: ReadTime[] = [];
  for (const read of PAGE_READS) {
    await read.read(store, facts);
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      await read.read(store, facts);
      samples.push(performance.now() - started);
    }
    times.push({ name: read.name, ms: median(samples) });
  }
  return times;
}

/** Per page (the part of a read's name before the colon): the sum of its reads' times, ms. */
function byPage(times: readonly ReadTime[]): Record<string, number> {
  const pages: Record<string, number> = {};
  for (const time of times) {
    const page = time.name.split(':')[0] as string;
    pages[page] = (pages[page] ?? 0) + time.ms;
  }
  return pages;
}

function report(kind: string, deliveries: number, buildSeconds: number, times: readonly ReadTime[]) {
  const pages = byPage(times);
  console.log(`  ${kind}: ${deliveries.toLocaleString('en')} deliveries built in ${buildSeconds.toFixed(1)} s`);
  for (const [page, ms] of Object.entries(pages)) console.log(`    ${page.padEnd(12)} ${ms.toFixed(2).padStart(9)} ms`);
  const slowest = [...times].sort((a, b) => b.ms - a.ms)[0];
  if (slowest) console.log(`    slowest read: ${slowest.name} ${slowest.ms.toFixed(2)} ms`);
  return { deliveries, buildSeconds, pages, reads: times };
}

async function sqlitePages(deliveries: number, runs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-pages-'));
  const store = createSqliteStore(join(dir, 'bridge.db'));
  try {
    const started = performance.now();
    const facts = buildSqliteScale(store.db, deliveries);
    const buildSeconds = (performance.now() - started) / 1000;
    return report('SQLite', deliveries, buildSeconds, await timeReads(store, facts, runs));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresPages(url: string, deliveries: number, runs: number) {
  const { createPostgresStore } = await import('../src/store/postgres/index.js');
  const pg = (await import('pg')).default;
  const schema = `bench_pages_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    const scoped = new URL(url);
    scoped.searchParams.set('options', `-c search_path=${schema}`);
    const store = await createPostgresStore(scoped.toString());
    try {
      const started = performance.now();
      const facts = await buildPostgresScale(store.pool, deliveries);
      const buildSeconds = (performance.now() - started) / 1000;
      return report('PostgreSQL', deliveries, buildSeconds, await timeReads(store, facts, runs));
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

/** Each page's time on a big store: SQLite always, PostgreSQL where BENCH_POSTGRES_URL is set. */
export async function pagesPhase(results: Record<string, unknown>, options: PagesOptions): Promise<void> {
  const deliveries = options.smoke ? 20_000 : 1_000_000;
  const runs = options.smoke ? 3 : 9;
  console.log(`\nconsole pages on a store of ${deliveries.toLocaleString('en')} deliveries (median of ${runs} runs of each read):`);
  const url = process.env.BENCH_POSTGRES_URL?.trim();
  results.pages = {
    sqlite: await sqlitePages(deliveries, runs),
    ...(url ? { postgres: await postgresPages(url, deliveries, runs) } : {}),
  };
  if (!url) console.log('  PostgreSQL: skipped (set BENCH_POSTGRES_URL to a database the bench may create a schema in)');
}

export interface KeepRawOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly synchronous: 'full' | 'normal';
}

interface RawRound {
  readonly rate: number;
  readonly cpuUs: number;
}

async function round(server: Server, next: ReturnType<typeof webhooks>, options: KeepRawOptions): Promise<RawRound> {
  const before = server.cpuMs().total;
  const load: LoadResult = await closedLoop(server.url, next, { seconds: options.seconds, connections: options.connections });
  if (load.failed > 0) throw new Error(`keep_raw round: ${load.failed} of ${load.total} requests failed (${load.firstError ?? ''})`);
  return { rate: load.rate, cpuUs: ((server.cpuMs().total - before) * 1000) / Math.max(1, load.total) };
}

/** Bytes per stored event: of the raw columns, and of the file (with its WAL) over every event. */
function bytesPerEvent(dir: string) {
  const path = join(dir, 'bridge.db');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS n, coalesce(sum(length(raw_body) + length(raw_headers)), 0) AS raw FROM events').get() as { n: number; raw: number };
    const file = [path, `${path}-wal`].reduce((sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0), 0);
    return { events: row.n, rawBytesPerEvent: row.raw / Math.max(1, row.n), fileBytesPerEvent: file / Math.max(1, row.n) };
  } finally {
    db.close();
  }
}

/** keep_raw on and off, in alternating rounds on two bridges: rate, CPU per webhook and bytes per event. */
export async function keepRawPhase(results: Record<string, unknown>, options: KeepRawOptions): Promise<void> {
  console.log('\nkeep_raw: on and off (closed loop, alternating rounds):');
  const dirs = { on: mkdtempSync(join(tmpdir(), 'audian-bridge-raw-on-')), off: mkdtempSync(join(tmpdir(), 'audian-bridge-raw-off-')) };
  const connectors = (dir: string) => ({ events: { type: 'file', path: join(dir, 'events.jsonl') } });
  const on = await startBridge(dirs.on, connectors(dirs.on), { synchronous: options.synchronous, store: { keep_raw: true } });
  const off = await startBridge(dirs.off, connectors(dirs.off), { synchronous: options.synchronous, store: { keep_raw: false } });
  const rounds: { on: RawRound; off: RawRound }[] = [];
  try {
    const nextOn = webhooks('raw-on', 1000);
    const nextOff = webhooks('raw-off', 1000);
    await closedLoop(on.url, nextOn, { seconds: 1, connections: options.connections });
    await closedLoop(off.url, nextOff, { seconds: 1, connections: options.connections });
    for (let n = 1; n <= options.rounds; n++) {
      const measured = { off: await round(off, nextOff, options), on: await round(on, nextOn, options) };
      console.log(`  round ${n}: on ${measured.on.rate.toFixed(0)} req/s, ${measured.on.cpuUs.toFixed(0)} µs CPU/webhook; off ${measured.off.rate.toFixed(0)} req/s, ${measured.off.cpuUs.toFixed(0)} µs CPU/webhook`);
      rounds.push(measured);
    }
    await drained(dirs.on, 120_000);
    await drained(dirs.off, 120_000);
  } finally {
    await on.stop();
    await off.stop();
  }
  const bytes = { on: bytesPerEvent(dirs.on), off: bytesPerEvent(dirs.off) };
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  const cpu = { on: median(rounds.map((r) => r.on.cpuUs)), off: median(rounds.map((r) => r.off.cpuUs)) };
  const rate = { on: median(rounds.map((r) => r.on.rate)), off: median(rounds.map((r) => r.off.rate)) };
  const ratios = { cpu: median(rounds.map((r) => r.on.cpuUs / r.off.cpuUs)), rate: median(rounds.map((r) => r.on.rate / r.off.rate)), fileBytes: bytes.on.fileBytesPerEvent / bytes.off.fileBytesPerEvent };
  console.log(`  medians: CPU/webhook ${cpu.on.toFixed(0)} vs ${cpu.off.toFixed(0)} µs (x${ratios.cpu.toFixed(2)}), ${rate.on.toFixed(0)} vs ${rate.off.toFixed(0)} req/s (x${ratios.rate.toFixed(2)})`);
  console.log(`  bytes per event: raw columns ${bytes.on.rawBytesPerEvent.toFixed(0)}; the file ${bytes.on.fileBytesPerEvent.toFixed(0)} on vs ${bytes.off.fileBytesPerEvent.toFixed(0)} off (x${ratios.fileBytes.toFixed(2)})`);
  results.keepRaw = { rounds, cpuPerWebhookUs: cpu, rate, bytes, ratios };
}
