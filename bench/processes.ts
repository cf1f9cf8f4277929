import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from '../src/store/sqlite/driver.js';
import YAML from 'yaml';
import { SECRET, WEBHOOK_PATH } from './payloads.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline.js', import.meta.url));

export interface Server {
  readonly url: string;
  readonly pid: number;
  /** Resident set size now, MB. */
  rssMb(): number;
  /**
   * CPU time used so far (user + system), ms: by the main thread (the event loop), and by the whole process;
   * `mainWaiting`: how long the main thread has been ready to run but waited for a core, ms (undefined where
   * the kernel does not say).
   */
  cpuMs(): { readonly main: number; readonly total: number; readonly mainWaiting: number | undefined };
  /**
   * Times a thread of the process went to sleep waiting for something (voluntary context switches, summed over
   * its threads still running): each is a wake-up to come, whatever the machine's load.
   */
  wakeups(): number;
  stop(): Promise<void>;
}

/** Servers still running: a benchmark stopped by a signal (or ending with an error) takes them with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** Starts `args` with node and resolves once `found` picks the URL out of a stdout line. */
function startProcess(args: string[], found: (line: string) => string | undefined, what: string): Promise<Server> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server that never said where it listens is not left running behind the failed run.
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within 20 s`));
    }, 20_000);
    const onExit = (code: number | null) => reject(new Error(`${what} exited (${String(code)}) before listening`));
    child.once('exit', onExit);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const url = found(line);
      if (url === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // The rest of stdout (the bridge's log line per webhook) is read and dropped unparsed: this process is the
      // load generator, and splitting and parsing thousands of lines a second would take the CPU it measures with.
      lines.close();
      child.stdout!.resume();
      resolve(serverOf(child, url));
    });
  });
}

function serverOf(child: ChildProcess, url: string): Server {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    pid: child.pid!,
    rssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
    },
    cpuMs() {
      let main = 0;
      let total = 0;
      for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
        const ms = threadCpuMs(`/proc/${child.pid}/task/${tid}/stat`);
        total += ms;
        if (Number(tid) === child.pid) main = ms;
      }
      return { main, total, mainWaiting: runQueueWaitMs(`/proc/${child.pid}/task/${child.pid}/schedstat`) };
    },
    wakeups() {
      let total = 0;
      for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
        try {
          total += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
        } catch {
          // the thread ended between the listing and the read
        }
      }
      return total;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** utime + stime of one thread (fields 14 and 15 of its stat, after the command's parenthesis), in clock ticks of 10 ms. */
function threadCpuMs(statPath: string): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0; // the thread ended between the listing and the read
  }
}

/**
 * Time a thread has spent ready to run but waiting for a core, ms: the second field of its schedstat (ns).
 * Undefined when the kernel keeps no schedstats.
 */
function runQueueWaitMs(schedstatPath: string): number | undefined {
  try {
    const waited = Number(readFileSync(schedstatPath, 'utf8').split(' ')[1]);
    return Number.isFinite(waited) ? waited / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

function jsonLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function startBaseline(): Promise<Server> {
  return startProcess([BASELINE], (line) => jsonLine(line)?.url as string | undefined, 'the Koa baseline');
}

/**
 * The bridge as deployed: `serve` with the default durable store (or the `store` keys given), one source,
 * `connectors`, one route to all of them. `dispatch`: keys over a poll interval of 200 ms, or `'defaults'` for
 * the dispatch settings a user gets. `cli`: another build's `src/cli/main.js` (an A/B against it).
 */
export function startBridge(
  dir: string,
  connectors: Record<string, unknown>,
  options: { dispatch?: Record<string, unknown> | 'defaults'; profileDir?: string; synchronous?: 'full' | 'normal'; store?: Record<string, unknown>; cli?: string } = {},
): Promise<Server> {
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    YAML.stringify({
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'bridge.db'), synchronous: options.synchronous ?? 'full', ...options.store },
      log: { level: 'info' },
      ...(options.dispatch === 'defaults' ? {} : { dispatch: { poll_interval: '200ms', ...options.dispatch } }),
      sources: [{ name: 'main', path: WEBHOOK_PATH, verify: { hmac: { secrets: [SECRET] } } }],
      connectors,
      routes: [{ name: 'all', to: Object.keys(connectors) }],
    }),
  );
  const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  return startProcess(
    [...profile, options.cli ?? CLI, 'serve', '--config', configPath],
    (line) => {
      const entry = jsonLine(line);
      return entry?.msg === 'audian-bridge listening' ? (entry.url as string) : undefined;
    },
    'the bridge',
  );
}

/** Deliveries still pending in the bridge's store under `dir`, read on a connection of the benchmark's own. */
export function pendingDeliveries(dir: string): number {
  const db = new Database(join(dir, 'bridge.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Resolves with the seconds it took until nothing is pending; fails after `timeoutMs`. */
export async function drained(dir: string, timeoutMs: number): Promise<number> {
  return (await drainedFrom(dir, timeoutMs)).seconds;
}

/**
 * As `drained`, also telling how many seconds passed before the first delivery left.
 * One connection for the whole wait, a count every 100 ms: on two cores, a count of
 * 100,000 pending deliveries every few milliseconds would take the CPU it measures.
 */
export async function drainedFrom(dir: string, timeoutMs: number): Promise<{ seconds: number; firstAfter: number }> {
  const db = new Database(join(dir, 'bridge.db'), { readonly: true, fileMustExist: true });
  try {
    const count = db.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'");
    const pendingNow = () => (count.get() as { n: number }).n;
    const started = performance.now();
    const initial = pendingNow();
    let firstAfter: number | undefined;
    for (let pending = initial; pending > 0; pending = pendingNow()) {
      if (firstAfter === undefined && pending < initial) firstAfter = (performance.now() - started) / 1000;
      if (performance.now() - started > timeoutMs) throw new Error(`the outbox did not drain within ${timeoutMs} ms (${pending} pending)`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    return { seconds, firstAfter: firstAfter ?? seconds };
  } finally {
    db.close();
  }
}

/**
 * Resolves once `server` has used no more than one clock tick of CPU over half a second (or after `timeoutMs`):
 * work a previous round left behind (a call's summary or missed-call decision falls due seconds after its end,
 * a checkpoint) is then not charged to the next round.
 */
export async function quiet(server: Server, timeoutMs = 20_000): Promise<void> {
  const started = performance.now();
  let last = server.cpuMs().total;
  while (performance.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = server.cpuMs().total;
    if (now - last <= 10) return;
    last = now;
  }
}
