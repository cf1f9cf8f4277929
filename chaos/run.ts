/**
 * `npm run chaos`: the bridge under a steady load of whole calls while a
 * nemesis injects faults on a schedule drawn from the seed (at most two at
 * once), then a checker that reads every sink back and compares it with what
 * the bridge acknowledged. docs/chaos.md describes the run and its report.
 *
 *   npm run chaos -- [--duration 10m] [--seed N] [--store sqlite|postgres] [--replicas N] [--replay REPORT.json] [--keep]
 *
 * Exits 1 when the checker finds a promise broken (or the run could not be
 * made), 0 otherwise. Writes bench/results/chaos-<date>.json and .txt.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ms from 'ms';
import { judge } from './checker.js';
import { MISSED_CALL_GRACE_MS, SECRET, WEBHOOK_PATH } from './config.js';
import { buildLedger } from './ledger-build.js';
import type { Evidence } from './ledger.js';
import { createNemesis } from './nemesis.js';
import { createProvider } from './provider.js';
import { faultRows, renderText, type ChaosReport, type Sample } from './report.js';
import { createRandom, createSchedule, type ScheduledFault } from './schedule.js';
import { planWorkload } from './workload.js';
import { faultActions, startWorld, type ReloadRecord, type World } from './world.js';

interface Options {
  readonly loadMs: number;
  readonly seed: number;
  readonly store: 'sqlite' | 'postgres';
  readonly replicas: number;
  readonly schedule?: readonly ScheduledFault[];
  /** Keep the run's folder (configs, logs, the archive files) for a look after the run. */
  readonly keep: boolean;
}

const CALLS_PER_MINUTE = 50;
/** Every webhook of a call goes out within this window: well inside missed_call_grace. */
const SPREAD_MS = 4_000;
/** The provider gives up on a webhook this long after the load ended. */
const GIVE_UP_AFTER_MS = 60_000;
const BOUNDS = { rssMb: 400, dbMb: 200 };

function options(): Options {
  const { values } = parseArgs({
    options: { duration: { type: 'string', default: '10m' }, seed: { type: 'string' }, store: { type: 'string', default: 'sqlite' }, replicas: { type: 'string', default: '1' }, replay: { type: 'string' }, keep: { type: 'boolean', default: false } },
  });
  const replayed = values.replay ? (JSON.parse(readFileSync(values.replay, 'utf8')) as ChaosReport) : undefined;
  const store = replayed?.store ?? values.store;
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store must be sqlite or postgres, not ${store}`);
  const replicas = replayed?.replicas ?? Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error('--replicas must be a whole number of at least 1');
  if (replicas > 1 && store !== 'postgres') throw new Error('--replicas above 1 needs --store postgres');
  const loadMs = replayed ? replayed.loadSeconds * 1000 : ms(values.duration as ms.StringValue);
  if (!Number.isFinite(loadMs) || loadMs < 30_000) throw new Error('--duration must be at least 30s');
  const seed = replayed?.seed ?? (values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed));
  return { loadMs, seed, store, replicas, keep: values.keep === true, ...(replayed ? { schedule: replayed.schedule } : {}) };
}

/** Samples the backlog, the database's size and every replica's RSS each second, and tails the archive files. */
function startSampling(world: World) {
  const samples: Sample[] = [];
  const peaks = { rssMb: 0, dbMb: 0, backlog: 0 };
  const tails = setInterval(() => world.replicas.forEach((replica) => replica.tail.poll()), 250);
  const sampler = setInterval(() => {
    void (async () => {
      const pending = await world.store.view.pending().catch(() => undefined);
      samples.push({ at: Date.now(), pending });
      peaks.backlog = Math.max(peaks.backlog, pending ?? 0);
      peaks.dbMb = Math.max(peaks.dbMb, (await world.store.view.sizeMb().catch(() => undefined)) ?? 0);
      for (const { bridge } of world.replicas) peaks.rssMb = Math.max(peaks.rssMb, bridge.rssMb());
    })();
  }, 1_000);
  return {
    samples,
    peaks,
    stop() {
      clearInterval(tails);
      clearInterval(sampler);
      world.replicas.forEach((replica) => replica.tail.poll());
    },
  };
}

/** Resolves once nothing has been pending for the grace and a margin (the last summaries wait the grace), or after `timeoutMs`. */
async function drained(world: World, timeoutMs: number): Promise<boolean> {
  const quietMs = MISSED_CALL_GRACE_MS + 3_000;
  const deadline = Date.now() + timeoutMs;
  let quietSince: number | undefined;
  while (Date.now() < deadline) {
    const pending = await world.store.view.pending().catch(() => undefined);
    if (pending === 0) quietSince ??= Date.now();
    else quietSince = undefined;
    if (quietSince !== undefined && Date.now() - quietSince >= quietMs) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

async function main(): Promise<number> {
  const opts = options();
  const schedule = opts.schedule ?? createSchedule({ seed: opts.seed, loadMs: opts.loadMs, store: opts.store, replicas: opts.replicas });
  console.log(`chaos: seed ${opts.seed}, ${opts.store}, ${opts.replicas} replica(s), ${opts.loadMs / 1000} s of load, ${schedule.length} faults; starting the parts`);
  const world = await startWorld({ store: opts.store, replicas: opts.replicas, keep: opts.keep });
  // Whatever stops the run early (an exception in a stand-in's handler, Ctrl-C), the broker, the server and the replicas go with it.
  const abandon = (reason: unknown) => {
    console.error('chaos: the run stops:', reason);
    void world.cleanup().finally(() => process.exit(1));
  };
  process.once('uncaughtException', abandon).once('unhandledRejection', abandon).once('SIGINT', abandon).once('SIGTERM', abandon);
  try {
    const date = new Date().toISOString();
    const startedAt = Date.now() + 1_000;
    const calls = planWorkload({ seed: opts.seed, loadMs: opts.loadMs, callsPerMinute: CALLS_PER_MINUTE, startedAt, spreadMs: SPREAD_MS });
    const kills: Evidence['kills'][number][] = [];
    const reloads: ReloadRecord[] = [];
    const { actions, notInjected } = faultActions(world, kills, reloads);
    const nemesis = createNemesis({ actions, notInjected, kills });
    const provider = createProvider({ urls: () => world.replicas.map((replica) => replica.bridge.url), path: WEBHOOK_PATH, secret: SECRET, random: createRandom(opts.seed ^ 0x9e3779b9) });
    const sampling = startSampling(world);
    console.log(`chaos: load of ${calls.length} calls for ${opts.loadMs / 1000} s`);
    await Promise.all([provider.run(calls, startedAt, startedAt + opts.loadMs + GIVE_UP_AFTER_MS), nemesis.run(schedule, startedAt)]);
    console.log('chaos: load and faults over; waiting for the outbox to drain');
    const wasDrained = await drained(world, 180_000);
    sampling.stop();
    const ledger = await buildLedger({ world, calls, provider: provider.record, kills, reloads, replicas: opts.replicas, peaks: sampling.peaks, bounds: BOUNDS });
    const verdict = judge(ledger.ledger);
    const planned = calls.reduce((sum, call) => sum + call.webhooks.length, 0);
    const report: ChaosReport = {
      date,
      node: process.version,
      seed: opts.seed,
      store: opts.store,
      replicas: opts.replicas,
      loadSeconds: opts.loadMs / 1000,
      settings: { callsPerMinute: CALLS_PER_MINUTE, spreadMs: SPREAD_MS, missedCallGraceMs: MISSED_CALL_GRACE_MS, bounds: BOUNDS },
      schedule,
      faults: faultRows(nemesis.records, provider.record.refusals, ledger.ledger.receipts, sampling.samples, startedAt),
      webhooks: { planned, acknowledged: provider.record.acks.size, refusals: provider.record.refusals.length, neverAcknowledged: planned - provider.record.acks.size },
      calls: { planned: calls.length, judged: ledger.ledger.calls.length, excluded: calls.length - ledger.ledger.calls.length },
      peaks: sampling.peaks,
      verdict,
      notes: [...ledger.notes, ...(wasDrained ? [] : ['the outbox did not drain within 180 s of the load ending'])],
    };
    writeReport(report);
    return verdict.ok && wasDrained ? 0 : 1;
  } finally {
    await world.cleanup();
  }
}

function writeReport(report: ChaosReport): void {
  const text = renderText(report);
  console.log(`\n${text}`);
  const stem = `chaos-${report.date.replace(/[:.]/g, '-')}`;
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${stem}.json`, dir), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(new URL(`${stem}.txt`, dir), text);
  console.log(`written: ${new URL(`${stem}.json`, dir).pathname} and .txt`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
