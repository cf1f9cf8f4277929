/**
 * `npm run bench`: throughput, latency, drain rate and memory of a real
 * bridge process under load. Machines are noisy, so every goal is a ratio
 * between measurements of the same run, never an absolute number.
 *
 * Environment: BENCH_SECONDS (per phase, default 5), BENCH_CONNECTIONS (default 16).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import autocannon, { type Result } from 'autocannon';
import Database from '../src/store/sqlite/driver.js';
import YAML from 'yaml';
import { signAudianRequest } from '../src/verify/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECRET = 'whsec_bench';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Goal {
  readonly name: string;
  readonly ratio: number;
  readonly atLeast: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    YAML.stringify({
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'bridge.db') },
      log: { level: 'info' },
      lifecycle: { missed_call_grace: '1s' },
      dispatch: { poll_interval: '200ms' },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [SECRET] } } }],
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl'), fsync: true } },
      routes: [{ name: 'all', to: 'events' }],
    }),
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await listeningUrl(child);
    const pid = child.pid!;
    let sequence = 0;
    const webhook = {
      method: 'POST',
      path: '/webhooks/audian',
      setupRequest: (request: Record<string, unknown>) => {
        sequence++;
        const body = JSON.stringify({
          id: `evt_bench_${sequence}`,
          timestamp: new Date().toISOString(),
          event: sequence % 4 === 0 ? 'call.completed' : 'call.ringing',
          data: { call_id: `call_bench_${sequence % 1000}`, direction: 'outbound', from: '+14155550100', to: '+14155550101' },
        });
        return { ...request, body, headers: { 'content-type': 'application/json', ...signAudianRequest(body, SECRET) } };
      },
    };
    const duplicateBody = JSON.stringify({ id: 'evt_bench_dup', timestamp: new Date().toISOString(), event: 'call.ringing', data: { call_id: 'call_dup' } });
    const duplicate = {
      method: 'POST',
      path: '/webhooks/audian',
      setupRequest: (request: Record<string, unknown>) => ({ ...request, body: duplicateBody, headers: { 'content-type': 'application/json', ...signAudianRequest(duplicateBody, SECRET) } }),
    };

    const phase = async (name: string, requests: object[]): Promise<Result> => {
      const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests: requests as never });
      const failed = result.non2xx + result.errors + result.timeouts;
      console.log(
        `${name.padEnd(22)} ${result.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(result.latency.p50).padStart(4)} ms   p99 ${String(result.latency.p99).padStart(4)} ms   ${result.requests.total} requests, ${failed} failed`,
      );
      if (failed > 0) throw new Error(`${name}: ${failed} requests failed`);
      return result;
    };

    console.log(`audian-bridge bench: ${SECONDS}s per phase, ${CONNECTIONS} connections, node ${process.version}\n`);
    const health = await phase('GET /healthz', [{ method: 'GET', path: '/healthz' }]);
    await phase('webhooks (warm-up)', [webhook]);
    await drain(dir, 60_000);
    const rssAfterWarmup = rssMb(pid);
    const accepted = await phase('signed webhooks', [webhook]);
    const drainStarted = Date.now();
    const backlog = pending(dir);
    await drain(dir, 120_000);
    const drainSeconds = Math.max(0.001, (Date.now() - drainStarted) / 1000);
    const dup = await phase('duplicate webhooks', [duplicate]);
    await phase('signed webhooks (2)', [webhook]);
    await drain(dir, 120_000);
    const rssAfterLoad = rssMb(pid);

    const written = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').length - 1;
    const drainRate = backlog / drainSeconds;
    console.log(`\noutbox backlog after load: ${backlog}, drained in ${drainSeconds.toFixed(2)} s${backlog ? ` (${drainRate.toFixed(0)} events/s)` : ''}`);
    console.log(`events written by the file connector: ${written}`);
    console.log(`RSS: ${rssAfterWarmup.toFixed(1)} MB after warm-up, ${rssAfterLoad.toFixed(1)} MB after two more load phases`);

    const goals: Goal[] = [
      // Verifying, normalizing and durably committing a webhook costs at most ~20x a bare health probe.
      { name: 'signed webhook throughput / healthz throughput', ratio: accepted.requests.average / health.requests.average, atLeast: 0.05 },
      // A retry (duplicate) is cheaper than a new event: no routing, no outbox rows.
      { name: 'duplicate throughput / new-event throughput', ratio: dup.requests.average / accepted.requests.average, atLeast: 0.9 },
      // The dispatcher keeps up with intake: when a load phase ends, at most 5% of its events still wait.
      { name: 'delivered during load / accepted during load', ratio: 1 - backlog / accepted.requests.total, atLeast: 0.95 },
      // No leak: two more full load phases grow RSS by less than half.
      { name: 'RSS after load / RSS after warm-up (inverse)', ratio: rssAfterWarmup / rssAfterLoad, atLeast: 1 / 1.5 },
    ];
    console.log('\ngoals (ratios within this run):');
    let failed = 0;
    for (const goal of goals) {
      const ok = goal.ratio >= goal.atLeast;
      if (!ok) failed++;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${goal.name}: ${goal.ratio.toFixed(3)} (>= ${goal.atLeast.toFixed(3)})`);
    }
    if (failed > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

function listeningUrl(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bridge did not start within 15 s')), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'audian-bridge listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`the bridge exited (${String(code)})`)));
  });
}

function pending(dir: string): number {
  const db = new Database(join(dir, 'bridge.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function drain(dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pending(dir) > 0) {
    if (Date.now() > deadline) throw new Error(`the outbox did not drain within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
