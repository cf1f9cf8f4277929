import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLoop, type LoadResult } from './load.js';
import { webhooks } from './payloads.js';
import { drained, quiet, startBaseline, startBridge, type Server } from './processes.js';

/** One paced round of one server: the load, and the CPU of all its threads per request, µs. */
export interface PacedRound {
  readonly load: LoadResult;
  readonly cpuUs: number;
  /** Voluntary context switches of the server's threads per request: the wake-ups each costs. */
  readonly wakeups: number;
  /** For the bridge: seconds from the last answer until every delivery was made. */
  readonly deliveredAfterSeconds?: number;
}

export interface PacedRate {
  readonly rate: number;
  readonly rounds: readonly { readonly baseline: PacedRound; readonly bridge: PacedRound }[];
  /** Medians over the rounds. */
  readonly baselineCpuUs: number;
  readonly bridgeCpuUs: number;
  /** The median of the rounds' ratios, bridge / bare Koa. */
  readonly ratio: number;
  readonly bridgeP99Ms: number;
  readonly baselineP99Ms: number;
  readonly bridgeWakeups: number;
  readonly baselineWakeups: number;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/**
 * CPU per webhook at paced rates: requests spread evenly (open loop) at each
 * of `rates`, against bare Koa + koa-bodyparser answering 200 and against the
 * bridge with its default dispatch settings and one file connector (fsync), in
 * alternating rounds. A round's CPU is utime + stime of every thread of the
 * server process (/proc), from just before the first request until the last
 * answer (bare Koa) or until every event was delivered (the bridge), divided
 * by the requests sent. Each round starts once the server is quiet, so work
 * left by the round before (summaries falling due) is not charged to it.
 */
export async function pacedCpu(rates: readonly number[], options: { seconds: number; rounds: number }): Promise<PacedRate[]> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-paced-'));
  const baseline = await startBaseline();
  const connectors = { events: { type: 'file', path: join(dir, 'events.jsonl'), fsync: true } };
  const bridge = await startBridge(dir, connectors, { dispatch: 'defaults' });
  const next = webhooks('paced', 1000);
  const results: PacedRate[] = [];
  try {
    // Warm both up (the JIT, the store's statements) at a moderate pace.
    await openLoop(baseline.url, next, { rate: 500, seconds: 1 });
    await openLoop(bridge.url, next, { rate: 500, seconds: 1 });
    await drained(dir, 60_000);
    for (const rate of rates) {
      const rounds: { baseline: PacedRound; bridge: PacedRound }[] = [];
      for (let round = 1; round <= options.rounds; round++) {
        const koa = await pacedRound(baseline, rate, options.seconds, next);
        const ours = await pacedRound(bridge, rate, options.seconds, next, dir);
        show(`${rate}/s round ${round}: bare Koa + koa-bodyparser`, koa);
        show(`${rate}/s round ${round}: bridge, defaults, delivered`, ours);
        rounds.push({ baseline: koa, bridge: ours });
      }
      const result: PacedRate = {
        rate,
        rounds,
        baselineCpuUs: median(rounds.map((r) => r.baseline.cpuUs)),
        bridgeCpuUs: median(rounds.map((r) => r.bridge.cpuUs)),
        ratio: median(rounds.map((r) => r.bridge.cpuUs / Math.max(1, r.baseline.cpuUs))),
        bridgeP99Ms: median(rounds.map((r) => r.bridge.load.p99)),
        baselineP99Ms: median(rounds.map((r) => r.baseline.load.p99)),
        bridgeWakeups: median(rounds.map((r) => r.bridge.wakeups)),
        baselineWakeups: median(rounds.map((r) => r.baseline.wakeups)),
      };
      console.log(
        `  ${rate}/s (medians): bridge ${result.bridgeCpuUs.toFixed(0)} µs per webhook delivered, bare Koa ${result.baselineCpuUs.toFixed(0)} µs per request: ` +
          `${result.ratio.toFixed(2)}×; p99 ${result.bridgeP99Ms.toFixed(1)} ms against ${result.baselineP99Ms.toFixed(1)} ms; ` +
          `wake-ups ${result.bridgeWakeups.toFixed(1)} against ${result.baselineWakeups.toFixed(1)} per request`,
      );
      results.push(result);
    }
    return results;
  } finally {
    await baseline.stop();
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pacedRound(server: Server, rate: number, seconds: number, next: () => import('./payloads.js').Webhook, storeDir?: string): Promise<PacedRound> {
  await quiet(server);
  const before = server.cpuMs().total;
  const wokenBefore = server.wakeups();
  const load = await openLoop(server.url, next, { rate, seconds });
  if (load.failed > 0) throw new Error(`paced ${rate}/s: ${load.failed} of ${load.total} requests failed${load.firstError ? ` (first: ${load.firstError})` : ''}`);
  const deliveredAfterSeconds = storeDir === undefined ? undefined : await drained(storeDir, 120_000);
  const cpuUs = ((server.cpuMs().total - before) * 1000) / load.total;
  const wakeups = (server.wakeups() - wokenBefore) / load.total;
  return { load, cpuUs, wakeups, ...(deliveredAfterSeconds === undefined ? {} : { deliveredAfterSeconds }) };
}

function show(name: string, round: PacedRound): void {
  const delivered = round.deliveredAfterSeconds === undefined ? '' : `   all delivered ${round.deliveredAfterSeconds.toFixed(2)} s after the last answer`;
  console.log(
    `  ${name.padEnd(44)} ${round.load.rate.toFixed(0).padStart(6)} req/s   p50 ${round.load.p50.toFixed(1).padStart(6)} ms   p99 ${round.load.p99.toFixed(1).padStart(6)} ms   CPU ${round.cpuUs.toFixed(0).padStart(5)} µs/req   wake-ups ${round.wakeups.toFixed(1).padStart(5)}/req${delivered}`,
  );
}
