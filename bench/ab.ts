/**
 * `npm run bench:ab -- --against DIR`: this build's bridge against another
 * build's (DIR: that tree's compiled output, e.g. main's `dist`), both with
 * the settings a user gets, in alternating rounds of one run, so that every
 * figure is a ratio between two measurements taken minutes apart on the same
 * machine: throughput at saturation, CPU per webhook and p99 at a paced
 * 1,000/s, RSS over a while at half rate, and Kafka keeping up with intake.
 *
 *   npm run bench:ab -- --against /tmp/main/dist                      a few minutes
 *   npm run bench:ab -- --against /tmp/main/dist --memory-minutes 5  RSS over five minutes each
 *   npm run bench:ab -- --against /tmp/main/dist --no-kafka
 *   npm run bench:ab -- --against /tmp/main/dist --only-paced --rate 300   the paced phase alone, at 300/s
 *
 * Environment: BENCH_SECONDS (per round, default 10), BENCH_CONNECTIONS (default 50).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from './broker.js';
import { closedLoop, openLoop, type LoadResult } from './load.js';
import { webhooks } from './payloads.js';
import { drained, quiet, startBridge, type Server } from './processes.js';

const { values: flags } = parseArgs({
  options: {
    against: { type: 'string' },
    'memory-minutes': { type: 'string', default: '1' },
    'no-kafka': { type: 'boolean', default: false },
    rate: { type: 'string', default: '1000' },
    'only-paced': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = 3;
const MEMORY_SECONDS = Math.round(Number(flags['memory-minutes']) * 60);
const TOPIC = 'audian.bench';

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

interface Side {
  readonly name: 'ours' | 'theirs';
  readonly dir: string;
  readonly bridge: Server;
}

function line(name: string, result: LoadResult, extra = ''): void {
  console.log(`  ${name.padEnd(40)} ${result.rate.toFixed(0).padStart(6)} req/s   p50 ${result.p50.toFixed(1).padStart(6)} ms   p99 ${result.p99.toFixed(1).padStart(6)} ms   ${extra}`);
  if (result.failed > 0) throw new Error(`${name}: ${result.failed} of ${result.total} requests failed${result.firstError ? ` (first: ${result.firstError})` : ''}`);
}

/** Both bridges, each on a store of its own with one file connector (fsync) and default settings. */
async function startBoth(theirCli: string, connectors: (dir: string) => Record<string, unknown>): Promise<Side[]> {
  const sides: Side[] = [];
  for (const [name, cli] of [['theirs', theirCli], ['ours', undefined]] as const) {
    const dir = mkdtempSync(join(tmpdir(), `audian-bridge-ab-${name}-`));
    sides.push({ name, dir, bridge: await startBridge(dir, connectors(dir), { dispatch: 'defaults', ...(cli ? { cli } : {}) }) });
  }
  return sides;
}

async function stopBoth(sides: readonly Side[]): Promise<void> {
  for (const side of sides) {
    await side.bridge.stop();
    rmSync(side.dir, { recursive: true, force: true });
  }
}

const fileConnector = (dir: string) => ({ events: { type: 'file', path: join(dir, 'events.jsonl'), fsync: true } });

async function throughput(sides: readonly Side[]): Promise<{ ours: number; theirs: number; ratio: number }> {
  console.log('throughput at saturation (closed loop):');
  const next = webhooks('ab', 1000);
  for (const side of sides) {
    await closedLoop(side.bridge.url, next, { seconds: 2, connections: CONNECTIONS });
    await drained(side.dir, 120_000);
  }
  const rounds: Record<string, number>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const rates: Record<string, number> = {};
    for (const side of sides) {
      const result = await closedLoop(side.bridge.url, next, { seconds: SECONDS, connections: CONNECTIONS });
      line(`round ${round}: ${side.name}`, result);
      rates[side.name] = result.rate;
      await drained(side.dir, 120_000);
    }
    rounds.push(rates);
  }
  const result = { ours: median(rounds.map((r) => r.ours!)), theirs: median(rounds.map((r) => r.theirs!)), ratio: median(rounds.map((r) => r.ours! / r.theirs!)) };
  console.log(`  ours / theirs: ${result.ratio.toFixed(2)}× (${result.ours.toFixed(0)} vs ${result.theirs.toFixed(0)} req/s)`);
  return result;
}

/** CPU of every thread per webhook at a paced rate, until every event was delivered; and the p99. */
async function paced(sides: readonly Side[], rate: number) {
  console.log(`\nat a paced ${rate}/s, until every event is delivered:`);
  const next = webhooks('ab-paced', 1000);
  const rounds: Record<string, { cpuUs: number; p99: number; wakeups: number }>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const entry: Record<string, { cpuUs: number; p99: number; wakeups: number }> = {};
    for (const side of sides) {
      await quiet(side.bridge);
      const before = side.bridge.cpuMs().total;
      const wokenBefore = side.bridge.wakeups();
      const result = await openLoop(side.bridge.url, next, { rate, seconds: SECONDS });
      await drained(side.dir, 120_000);
      const cpuUs = ((side.bridge.cpuMs().total - before) * 1000) / result.total;
      const wakeups = (side.bridge.wakeups() - wokenBefore) / result.total;
      line(`round ${round}: ${side.name}`, result, `CPU ${cpuUs.toFixed(0).padStart(5)} µs/webhook   wake-ups ${wakeups.toFixed(1)}/webhook`);
      entry[side.name] = { cpuUs, p99: result.p99, wakeups };
    }
    rounds.push(entry);
  }
  const result = {
    rate,
    oursCpuUs: median(rounds.map((r) => r.ours!.cpuUs)),
    theirsCpuUs: median(rounds.map((r) => r.theirs!.cpuUs)),
    /** theirs / ours: above 1, ours costs less. */
    cpuRatio: median(rounds.map((r) => r.theirs!.cpuUs / r.ours!.cpuUs)),
    oursP99Ms: median(rounds.map((r) => r.ours!.p99)),
    theirsP99Ms: median(rounds.map((r) => r.theirs!.p99)),
    oursWakeups: median(rounds.map((r) => r.ours!.wakeups)),
    theirsWakeups: median(rounds.map((r) => r.theirs!.wakeups)),
  };
  console.log(
    `  CPU per webhook: ours ${result.oursCpuUs.toFixed(0)} µs, theirs ${result.theirsCpuUs.toFixed(0)} µs (theirs / ours ${result.cpuRatio.toFixed(2)}×); ` +
      `p99 ours ${result.oursP99Ms.toFixed(1)} ms, theirs ${result.theirsP99Ms.toFixed(1)} ms; wake-ups per webhook ours ${result.oursWakeups.toFixed(1)}, theirs ${result.theirsWakeups.toFixed(1)}`,
  );
  return result;
}

/** RSS at half rate for a while, one bridge after the other; growth as bench/run.ts measures it. */
async function memory(sides: readonly Side[], rate: number) {
  console.log(`\nmemory at ${rate} req/s for ${MEMORY_SECONDS} s each:`);
  const next = webhooks('ab-memory', 1000);
  const growth: Record<string, number> = {};
  for (const side of sides) {
    const samples: number[] = [side.bridge.rssMb()];
    const sampler = setInterval(() => samples.push(side.bridge.rssMb()), 1000);
    const result = await openLoop(side.bridge.url, next, { rate, seconds: MEMORY_SECONDS }).finally(() => clearInterval(sampler));
    const tenth = Math.max(1, Math.ceil(samples.length / 10));
    growth[side.name] = median(samples.slice(-tenth)) - median(samples.slice(0, tenth));
    line(side.name, result, `RSS ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)} MB, growth ${growth[side.name]!.toFixed(1)} MB`);
    await drained(side.dir, 120_000);
  }
  return { rate, seconds: MEMORY_SECONDS, oursGrowthMb: growth.ours!, theirsGrowthMb: growth.theirs! };
}

/** Each bridge into a broker of the benchmark's own at its maximum intake; how soon Kafka had everything. */
async function kafka(theirCli: string) {
  console.log(`\nkafka keeping up (a broker of its own, topic ${TOPIC} of 6 partitions):`);
  const broker = await startBroker();
  let sides: Side[] = [];
  try {
    await broker.createTopic(TOPIC, 6);
    sides = await startBoth(theirCli, () => ({ kafka: { type: 'kafka', brokers: broker.brokers, topic: TOPIC } }));
    const next = webhooks('ab-kafka', 1000);
    const rounds: Record<string, { rate: number; caughtUp: number }>[] = [];
    for (const side of sides) {
      await closedLoop(side.bridge.url, next, { seconds: 2, connections: CONNECTIONS });
      await drained(side.dir, 60_000);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const entry: Record<string, { rate: number; caughtUp: number }> = {};
      for (const side of sides) {
        const result = await closedLoop(side.bridge.url, next, { seconds: SECONDS, connections: CONNECTIONS });
        const caughtUp = await drained(side.dir, 120_000);
        line(`round ${round}: ${side.name}`, result, `kafka caught up ${caughtUp.toFixed(2)} s after`);
        entry[side.name] = { rate: result.rate, caughtUp };
      }
      rounds.push(entry);
    }
    return {
      oursRate: median(rounds.map((r) => r.ours!.rate)),
      theirsRate: median(rounds.map((r) => r.theirs!.rate)),
      rateRatio: median(rounds.map((r) => r.ours!.rate / r.theirs!.rate)),
      oursCaughtUpSeconds: median(rounds.map((r) => r.ours!.caughtUp)),
      theirsCaughtUpSeconds: median(rounds.map((r) => r.theirs!.caughtUp)),
    };
  } finally {
    await stopBoth(sides);
    await broker.destroy();
  }
}

async function main(): Promise<void> {
  if (!flags.against) throw new Error('give --against DIR: the compiled output of the build to compare with (the folder holding src/cli/main.js)');
  const theirCli = resolve(flags.against, 'src/cli/main.js');
  const started = new Date();
  console.log(`audian-bridge A/B: this build (ours) against ${theirCli} (theirs); ${SECONDS} s rounds, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);
  const results: Record<string, unknown> = { date: started.toISOString(), against: flags.against, seconds: SECONDS, connections: CONNECTIONS };
  const sides = await startBoth(theirCli, fileConnector);
  try {
    if (flags['only-paced']) results.paced = await paced(sides, Number(flags.rate));
    else {
      const saturation = await throughput(sides);
      results.throughput = saturation;
      results.paced = await paced(sides, Number(flags.rate));
      results.memory = await memory(sides, Math.max(50, Math.round(saturation.theirs / 2)));
    }
  } finally {
    await stopBoth(sides);
  }
  if (!flags['no-kafka'] && !flags['only-paced']) results.kafka = await kafka(theirCli);
  const out = new URL(`../../bench/results/ab-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
  mkdirSync(new URL('.', out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten: ${out.pathname}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
