/**
 * `npm run bench`: the bridge against a bare Koa server on the same POSTs,
 * into a real Kafka broker, at half load and over time, in one run. Machines
 * are noisy, so every goal is a ratio between measurements of this run, each
 * the median of alternating rounds.
 *
 *   npm run bench                      all phases (a few minutes)
 *   npm run bench -- --smoke           a few seconds per phase, no Kafka, goals printed but not enforced
 *   npm run bench -- --memory-minutes 5  the memory phase for 5 minutes (default 0.5)
 *   npm run bench -- --no-kafka        skip the Kafka phases
 *   npm run bench -- --only-kafka      only the Kafka phases
 *   npm run bench -- --synchronous normal  the store at synchronous=NORMAL (the goals are stated at FULL, the default)
 *   npm run bench -- --profile DIR     only the ingest load, the bridge under --cpu-prof; prints its top entries
 *   npm run bench -- --profile DIR --profile-rate 1000  the same, paced at 1,000/s with the default dispatch settings
 *   npm run bench -- --only-paced      only the CPU per webhook at paced rates (100/s and 1,000/s)
 *   npm run bench -- --only-recovery   only the HTTP target's outage and recovery
 *   npm run bench -- --no-pages        skip the console pages and keep_raw phases (bench/pages.ts)
 *
 * Environment: BENCH_SECONDS (per round, default 10), BENCH_CONNECTIONS (default 50), BENCH_BACKLOG (the Kafka
 * backlog's deliveries, default 100,000: a machine too busy to accept them within the outage can use fewer).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaScriptError, startBroker, TOOLS_MISSING, type Broker } from './broker.js';
import { closedLoop, openLoop, type LoadResult } from './load.js';
import { webhooks } from './payloads.js';
import { drained, drainedFrom, pendingDeliveries, startBaseline, startBridge, type Server } from './processes.js';
import { pacedCpu } from './paced.js';
import { firstMessageAfter, httpRecovery, topicSize } from './recovery.js';
import { keepRawPhase, pagesPhase } from './pages.js';
import { topOfProfiles } from './profile.js';

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    'no-kafka': { type: 'boolean', default: false },
    'only-kafka': { type: 'boolean', default: false },
    'no-pages': { type: 'boolean', default: false },
    'memory-minutes': { type: 'string', default: '0.5' },
    profile: { type: 'string' },
    'profile-rate': { type: 'string' },
    'only-paced': { type: 'boolean', default: false },
    'only-recovery': { type: 'boolean', default: false },
    synchronous: { type: 'string', default: 'full' },
  },
});
const SMOKE = flags.smoke === true;
const SECONDS = SMOKE ? 2 : Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = SMOKE ? 1 : 3;
const MEMORY_SECONDS = SMOKE ? 3 : Math.round(Number(flags['memory-minutes']) * 60);
const BACKLOG = { deliveries: Number(process.env.BENCH_BACKLOG ?? 100_000), calls: 500 };
/** The Kafka outage and the HTTP target's, seconds (the smoke's HTTP outage is short: it runs the code path only). */
const OUTAGE_SECONDS = 30;
const HTTP_OUTAGE_SECONDS = SMOKE ? 3 : 40;
const TOPIC = 'audian.bench';
const SYNCHRONOUS = flags.synchronous === 'normal' ? 'normal' : 'full';

interface Goal {
  readonly name: string;
  readonly value: number;
  readonly limit: number;
  readonly atMost?: boolean;
  readonly detail: string;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const fileConnector = (dir: string) => ({ events: { type: 'file', path: join(dir, 'events.jsonl'), fsync: true } });

/**
 * CPU time per request of one round, µs: on the server's main thread (its event loop) and in the whole process.
 * `mainBusy` and `mainWaiting`: the share of the round the main thread ran, and the share it was ready to run
 * but waited for a core (the threads of the machine, the load generator's among them, wanted more cores than it has).
 */
interface CpuPerRequest {
  readonly main: number;
  readonly total: number;
  readonly mainBusy: number;
  readonly mainWaiting: number | undefined;
}

/** Runs a load against `server` and says what CPU it took per request (Linux: from /proc). */
async function measured(server: Server, load: () => Promise<LoadResult>): Promise<{ load: LoadResult; cpu: CpuPerRequest }> {
  const before = server.cpuMs();
  const started = performance.now();
  const result = await load();
  const elapsedMs = performance.now() - started;
  const after = server.cpuMs();
  const perRequest = (ms: number) => (ms * 1000) / Math.max(1, result.total);
  const waited = after.mainWaiting === undefined || before.mainWaiting === undefined ? undefined : after.mainWaiting - before.mainWaiting;
  return {
    load: result,
    cpu: {
      main: perRequest(after.main - before.main),
      total: perRequest(after.total - before.total),
      mainBusy: (after.main - before.main) / elapsedMs,
      mainWaiting: waited === undefined ? undefined : waited / elapsedMs,
    },
  };
}

function show(name: string, result: LoadResult, cpu?: CpuPerRequest): void {
  const waiting = cpu?.mainWaiting === undefined ? '' : `, waiting for a core ${cpu.mainWaiting.toFixed(2)}`;
  const perRequest = cpu ? `CPU/req: main thread ${cpu.main.toFixed(0).padStart(4)} µs, process ${cpu.total.toFixed(0).padStart(4)} µs; main thread busy ${cpu.mainBusy.toFixed(2)}${waiting}   ` : '';
  console.log(
    `  ${name.padEnd(34)} ${result.rate.toFixed(0).padStart(7)} req/s   p50 ${result.p50.toFixed(1).padStart(6)} ms   p99 ${result.p99.toFixed(1).padStart(6)} ms   max ${result.max.toFixed(0).padStart(5)} ms   ${perRequest}${result.failed ? `${result.failed} FAILED` : ''}`,
  );
  if (result.failed > 0) throw new Error(`${name}: ${result.failed} of ${result.total} requests failed${result.firstError ? ` (first: ${result.firstError})` : ''}`);
}

async function profileOnly(dir: string, profileDir: string): Promise<void> {
  mkdirSync(profileDir, { recursive: true });
  const rate = flags['profile-rate'] === undefined ? undefined : Number(flags['profile-rate']);
  // Paced, the bridge runs with the dispatch settings a user gets: what is fixed per commit and per wake-up shows.
  const bridge = await startBridge(dir, fileConnector(dir), { profileDir, synchronous: SYNCHRONOUS, ...(rate === undefined ? {} : { dispatch: 'defaults' as const }) });
  const next = webhooks('profile', 1000);
  try {
    if (rate === undefined) {
      show('warm-up', await closedLoop(bridge.url, next, { seconds: 2, connections: CONNECTIONS }));
      show('bridge, full ingest (profiled)', await closedLoop(bridge.url, next, { seconds: SECONDS, connections: CONNECTIONS }));
    } else {
      show('warm-up', await openLoop(bridge.url, next, { rate, seconds: 2 }));
      show(`bridge at ${rate}/s (profiled)`, await openLoop(bridge.url, next, { rate, seconds: SECONDS }));
      await drained(dir, 60_000);
    }
  } finally {
    await bridge.stop();
  }
  for (const { file, top } of topOfProfiles(profileDir, 20)) {
    console.log(`\ntop of ${file} (self time):`);
    for (const entry of top) console.log(`  ${(entry.self * 100).toFixed(1).padStart(5)} %  ${entry.name}`);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-'));
  const started = new Date();
  console.log(`audian-bridge bench${SMOKE ? ' (smoke)' : ''}: ${SECONDS} s rounds, ${CONNECTIONS} connections, synchronous=${SYNCHRONOUS}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);
  try {
    if (flags.profile) return await profileOnly(dir, flags.profile);
    const results: Record<string, unknown> = { date: started.toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, seconds: SECONDS, connections: CONNECTIONS, smoke: SMOKE, synchronous: SYNCHRONOUS };
    const goals: Goal[] = [];

    if (flags['only-paced']) await pacedPhase(results, goals, undefined);
    else if (flags['only-recovery']) await httpRecoveryPhase(results, goals);
    else if (!flags['only-kafka']) {
      await ingestPhases(dir, results, goals);
      await pacedPhase(results, goals, results.maxRate as number);
      await httpRecoveryPhase(results, goals);
      if (!flags['no-pages']) {
        await keepRawPhase(results, { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, synchronous: SYNCHRONOUS });
        await pagesPhase(results, { smoke: SMOKE });
      }
    }

    // 4. Kafka: end to end at the maximum intake rate, then a backlog built while the broker is down.
    if (!SMOKE && !flags['no-kafka'] && !flags['only-paced'] && !flags['only-recovery']) await kafkaPhases(results, goals, (results.maxRate as number | undefined) ?? 0);

    console.log('\ngoals (ratios within this run):');
    let failed = 0;
    for (const goal of goals) {
      const ok = goal.atMost ? goal.value <= goal.limit : goal.value >= goal.limit;
      if (!ok) failed++;
      console.log(`  ${SMOKE ? '    ' : ok ? 'ok  ' : 'FAIL'} ${goal.name}: ${goal.value.toFixed(2)} (${goal.atMost ? '<=' : '>='} ${goal.limit}; ${goal.detail})`);
    }
    results.goals = goals.map((goal) => ({ ...goal, met: goal.atMost ? goal.value <= goal.limit : goal.value >= goal.limit }));
    const out = new URL(`../../bench/results/${started.toISOString().replace(/[:.]/g, '-')}${SMOKE ? '-smoke' : ''}.json`, import.meta.url);
    mkdirSync(new URL('.', out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten: ${out.pathname}`);
    // A smoke run checks that every phase runs; its few seconds say nothing about the goals.
    if (failed > 0 && !SMOKE) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throughput, latency at half rate and memory: bare Koa and the bridge with one file connector. */
async function ingestPhases(dir: string, results: Record<string, unknown>, goals: Goal[]): Promise<void> {
  // 1. Throughput: bare Koa and the bridge in alternating rounds, both answering the same signed, unique POSTs.
  console.log('throughput (closed loop):');
  const baseline = await startBaseline();
  const bridge = await startBridge(dir, fileConnector(dir), { synchronous: SYNCHRONOUS });
  const next = webhooks('ingest', 1000);
  const rounds: { baseline: LoadResult; bridge: LoadResult; backlog: number; cpu: { baseline: CpuPerRequest; bridge: CpuPerRequest } }[] = [];
  try {
    await closedLoop(baseline.url, next, { seconds: 2, connections: CONNECTIONS });
    await closedLoop(bridge.url, next, { seconds: 2, connections: CONNECTIONS });
    await drained(dir, 120_000);
    for (let round = 1; round <= ROUNDS; round++) {
      const koa = await measured(baseline, () => closedLoop(baseline.url, next, { seconds: SECONDS, connections: CONNECTIONS }));
      show(`round ${round}: bare Koa + koa-bodyparser`, koa.load, koa.cpu);
      const ours = await measured(bridge, () => closedLoop(bridge.url, next, { seconds: SECONDS, connections: CONNECTIONS }));
      show(`round ${round}: bridge, full ingest`, ours.load, ours.cpu);
      const backlog = pendingDeliveries(dir);
      rounds.push({ baseline: koa.load, bridge: ours.load, backlog, cpu: { baseline: koa.cpu, bridge: ours.cpu } });
      await drained(dir, 120_000);
    }
    const maxRate = median(rounds.map((round) => round.bridge.rate));
    const throughputRatio = median(rounds.map((round) => round.bridge.rate / round.baseline.rate));
    const bridgeCpu = { main: median(rounds.map((round) => round.cpu.bridge.main)), total: median(rounds.map((round) => round.cpu.bridge.total)) };
    console.log(`  CPU per webhook (medians): the bridge's main thread ${bridgeCpu.main.toFixed(0)} µs, its whole process ${bridgeCpu.total.toFixed(0)} µs; bare Koa ${median(rounds.map((round) => round.cpu.baseline.total)).toFixed(0)} µs`);
    const waits = rounds.map((round) => round.cpu.bridge.mainWaiting);
    const waiting = waits.every((wait) => wait !== undefined) ? `, waiting for a core ${median(waits as number[]).toFixed(2)}` : '';
    console.log(`  the bridge's main thread (medians): busy ${median(rounds.map((round) => round.cpu.bridge.mainBusy)).toFixed(2)} of a core${waiting}`);
    results.throughput = { rounds, bridgeRate: maxRate, baselineRate: median(rounds.map((round) => round.baseline.rate)), ratio: throughputRatio, bridgeCpuPerRequestUs: bridgeCpu };
    goals.push({ name: 'full durable ingest / bare Koa (req/s)', value: throughputRatio, limit: 0.5, detail: `${maxRate.toFixed(0)} vs ${median(rounds.map((r) => r.baseline.rate)).toFixed(0)} req/s` });

    // 2. Latency at half the bridge's maximum rate, requests spread evenly, both servers at that same rate.
    const half = Math.max(50, Math.round(maxRate / 2));
    console.log(`\nlatency at ${half} req/s (open loop, half the bridge's maximum):`);
    const latency: { baseline: LoadResult; bridge: LoadResult }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const koa = await openLoop(baseline.url, next, { rate: half, seconds: SECONDS });
      show(`round ${round}: bare Koa + koa-bodyparser`, koa);
      const ours = await openLoop(bridge.url, next, { rate: half, seconds: SECONDS });
      show(`round ${round}: bridge, full ingest`, ours);
      latency.push({ baseline: koa, bridge: ours });
    }
    const p99Ratio = median(latency.map((round) => round.bridge.p99 / Math.max(5, round.baseline.p99)));
    results.latency = { rate: half, rounds: latency, ratio: p99Ratio };
    goals.push({
      name: 'p99 at half rate / bare Koa p99 (floor 5 ms)',
      value: p99Ratio,
      limit: 3,
      atMost: true,
      detail: `${median(latency.map((r) => r.bridge.p99)).toFixed(1)} ms vs ${median(latency.map((r) => r.baseline.p99)).toFixed(1)} ms`,
    });

    // 3. Memory: half rate for a while; RSS sampled every second.
    await baseline.stop();
    console.log(`\nmemory at ${half} req/s for ${MEMORY_SECONDS} s:`);
    const samples: number[] = [bridge.rssMb()];
    const sampler = setInterval(() => samples.push(bridge.rssMb()), 1000);
    const memory = await openLoop(bridge.url, next, { rate: half, seconds: MEMORY_SECONDS }).finally(() => clearInterval(sampler));
    show('bridge, full ingest', memory);
    // Growth is the median of the last tenth of the samples against the median of the first tenth. The V8 heap
    // grows between major collections and gives the space back after them, in cycles longer than a short phase
    // (docs/benchmarks.md, "Memory"), so one sample against another measures where in that cycle each fell.
    const tenth = Math.max(1, Math.ceil(samples.length / 10));
    const last = samples.slice(-tenth);
    const start = median(samples.slice(0, tenth));
    const end = median(last);
    const growth = end - start;
    const peakGrowth = Math.max(...last) - (samples[0] as number);
    console.log(
      `  RSS ${start.toFixed(0)} MB at the start, ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)} MB during, ${end.toFixed(0)} MB at the end ` +
        `(medians of the first and last tenth): growth ${growth.toFixed(1)} MB; the last tenth's peak against the first sample: ${peakGrowth.toFixed(1)} MB`,
    );
    results.memory = { rate: half, seconds: MEMORY_SECONDS, samples, growthMb: growth, peakGrowthMb: peakGrowth };
    goals.push({ name: `RSS growth over ${MEMORY_SECONDS} s at half rate (MB)`, value: growth, limit: 50, atMost: true, detail: `${start.toFixed(0)} → ${end.toFixed(0)} MB` });

    results.maxRate = maxRate;
  } finally {
    await baseline.stop();
    await bridge.stop();
  }
}

/**
 * CPU per webhook at 100/s, 1,000/s and half the maximum rate (when known), the bridge with its default
 * dispatch settings against bare Koa (bench/paced.ts).
 */
async function pacedPhase(results: Record<string, unknown>, goals: Goal[], maxRate: number | undefined): Promise<void> {
  const rates = [100, 1000, ...(maxRate === undefined ? [] : [Math.max(50, Math.round(maxRate / 2))])];
  console.log(`\nCPU per webhook at paced rates (${rates.join(', ')}/s; the bridge with its default dispatch settings, until every event is delivered):`);
  const paced = await pacedCpu(rates, { seconds: SECONDS, rounds: ROUNDS });
  results.paced = paced;
  const at1000 = paced.find((entry) => entry.rate === 1000);
  if (at1000) {
    goals.push({
      name: 'CPU per webhook at 1,000/s / bare Koa per request',
      value: at1000.ratio,
      limit: 2.5,
      atMost: true,
      detail: `${at1000.bridgeCpuUs.toFixed(0)} vs ${at1000.baselineCpuUs.toFixed(0)} µs`,
    });
  }
}

/** A local HTTP target down, then back: how soon the bridge, with its default dispatch settings, delivers to it. */
async function httpRecoveryPhase(results: Record<string, unknown>, goals: Goal[]): Promise<void> {
  const calls = SMOKE ? 5 : 20;
  console.log(`\nrecovery: a local HTTP target refusing connections for ${HTTP_OUTAGE_SECONDS} s while ${calls} calls arrive (default dispatch settings):`);
  const recovery = await httpRecovery({ outageSeconds: HTTP_OUTAGE_SECONDS, calls });
  console.log(`  once the target was back: the first delivery after ${recovery.firstAfterSeconds.toFixed(2)} s, all ${recovery.calls} after ${recovery.allAfterSeconds.toFixed(2)} s`);
  results.httpRecovery = recovery;
  goals.push({ name: 'http: first delivery after the target is back (s)', value: recovery.firstAfterSeconds, limit: 2, atMost: true, detail: `after ${HTTP_OUTAGE_SECONDS} s down` });
}

async function kafkaPhases(results: Record<string, unknown>, goals: Goal[], maxRate: number): Promise<void> {
  console.log(`\nkafka (a broker of its own, scripts/kafka.sh; topic ${TOPIC} of 6 partitions):`);
  let broker: Broker;
  try {
    broker = await startBroker();
  } catch (err) {
    if (err instanceof KafkaScriptError && err.code === TOOLS_MISSING) {
      console.log(`  NOT RUN: ${err.message}`);
      goals.push({ name: 'kafka phases ran', value: 0, limit: 1, detail: 'java or maven missing' });
      return;
    }
    throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-kafka-store-'));
  let bridge: Server | undefined;
  try {
    await broker.createTopic(TOPIC, 6);
    // The dispatch settings a user gets: how soon the backlog leaves after the outage is theirs to decide.
    bridge = await startBridge(dir, { kafka: { type: 'kafka', brokers: broker.brokers, topic: TOPIC } }, { dispatch: 'defaults', synchronous: SYNCHRONOUS });
    const next = webhooks('kafka', 1000);
    await closedLoop(bridge.url, next, { seconds: 2, connections: CONNECTIONS });
    await drained(dir, 60_000);
    const intake = await closedLoop(bridge.url, next, { seconds: SECONDS, connections: CONNECTIONS });
    show('bridge into kafka, maximum intake', intake);
    const caughtUp = await drained(dir, 120_000);
    console.log(`  kafka caught up ${caughtUp.toFixed(2)} s after the load stopped`);
    goals.push({ name: 'kafka caught up after max intake (s)', value: caughtUp, limit: 2, atMost: true, detail: `at ${intake.rate.toFixed(0)} req/s` });

    const before = topicSize(broker.brokers, TOPIC);
    const inKafka = await before.read().finally(() => before.close());
    await broker.stop();
    const backlogNext = webhooks('backlog', BACKLOG.calls);
    const building = performance.now();
    // Every one must be acknowledged: a webhook the bridge refused would leave the backlog short.
    const built = await closedLoop(bridge.url, backlogNext, { amount: BACKLOG.deliveries, connections: CONNECTIONS });
    show('bridge into kafka, broker down', built);
    const pending = pendingDeliveries(dir);
    console.log(`  backlog of ${pending} deliveries over ${BACKLOG.calls} calls built in ${((performance.now() - building) / 1000).toFixed(1)} s while the broker was down`);
    // The broker stays down at least OUTAGE_SECONDS, however fast the backlog was built.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_SECONDS * 1000 - (performance.now() - building))));
    const downFor = (performance.now() - building) / 1000;
    await broker.restart();
    const firstMessage = firstMessageAfter(broker.brokers, TOPIC, inKafka, 900_000);
    const drain = await drainedFrom(dir, 900_000);
    const firstInKafka = await firstMessage;
    const drainSeconds = drain.seconds;
    const drainRate = pending / drainSeconds;
    const intakeRate = Math.max(maxRate, intake.rate);
    console.log(
      `  the broker down ${downFor.toFixed(1)} s; once it was back: the first message in Kafka after ${firstInKafka.toFixed(1)} s, ` +
        `drained in ${drainSeconds.toFixed(1)} s: ${drainRate.toFixed(0)} deliveries/s ` +
        `(the first outcome recorded after ${drain.firstAfter.toFixed(1)} s, then ${(pending / Math.max(0.001, drainSeconds - drain.firstAfter)).toFixed(0)}/s)`,
    );
    results.kafka = { intake, caughtUpSeconds: caughtUp, backlog: pending, outageSeconds: downFor, firstMessageAfterSeconds: firstInKafka, drainSeconds, drainRate, firstDeliveryAfterSeconds: drain.firstAfter };
    goals.push({ name: 'kafka: first message after the broker is back (s)', value: firstInKafka, limit: 2, atMost: true, detail: `after ${downFor.toFixed(0)} s down, default dispatch settings` });
    goals.push({ name: 'kafka backlog drain / maximum intake rate', value: drainRate / intakeRate, limit: 3, detail: `${drainRate.toFixed(0)} vs ${intakeRate.toFixed(0)} /s` });
  } finally {
    await bridge?.stop();
    await broker.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
