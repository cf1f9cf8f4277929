import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import Database from '../src/store/sqlite/driver.js';

/**
 * The real processes and files a chaos run acts on: the bridge's replicas (the
 * built CLI from dist/), a read-only view of the store, the small tmpfs that
 * holds the SQLite file, and the connection that holds its write lock.
 */

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface BridgeProcess {
  readonly url: string;
  readonly logPath: string;
  alive(): boolean;
  /** SIGKILL: no shutdown, no flush. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again with the same config (same port) and resolves once it listens. */
  restart(): Promise<void>;
  /** Asks for a config reload (SIGHUP); false when the process is down. */
  hangUp(): boolean;
  /** Resident set size now, MB (0 when down). */
  rssMb(): number;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}

/** `audian-bridge serve --config <configPath>` on a fixed port (`url`), its stdout appended to `logPath`. */
export async function startBridgeProcess(configPath: string, url: string, logPath: string): Promise<BridgeProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void>;
  const log = createWriteStream(logPath, { flags: 'a' });
  const start = async () => {
    // One process per replica: a restart while one runs would only fight it for the port.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
    child = spawn(process.execPath, [CLI, 'serve', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const spawned = child;
    exited = new Promise((resolve) => spawned.once('exit', () => resolve()));
    await listening(spawned, configPath);
  };
  await start();
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    url,
    logPath,
    alive,
    async kill() {
      if (alive()) child!.kill('SIGKILL');
      await exited;
    },
    restart: start,
    hangUp: () => alive() && child!.kill('SIGHUP'),
    rssMb() {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child!.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      } catch {
        return 0;
      }
    },
    async stop() {
      if (alive()) child!.kill('SIGTERM');
      await exited;
      log.end();
    },
  };
}

function listening(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bridge (${what}) did not listen within 30 s`)), 30_000);
    const onExit = (code: number | null) => reject(new Error(`the bridge (${what}) exited (${String(code)}) before listening`));
    child.once('exit', onExit);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.includes('"audian-bridge listening"')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      // Closing the reader pauses the stream; the log file still takes the rest.
      child.stdout!.resume();
      resolve();
    });
  });
}

export interface StoreView {
  /** Pending deliveries now; undefined while the store cannot be read (a PostgreSQL restart). */
  pending(): Promise<number | undefined>;
  dead(): Promise<number>;
  /** The database's size on disk, MB. */
  sizeMb(): Promise<number | undefined>;
  close(): Promise<void>;
}

/** A read-only SQLite connection of the harness's own: reading never waits for the bridge's writer. */
export function sqliteView(path: string): StoreView {
  let db: InstanceType<typeof Database> | undefined;
  const open = () => (db ??= new Database(path, { readonly: true, fileMustExist: true }));
  const count = (status: string) => (open().prepare('SELECT count(*) AS n FROM deliveries WHERE status = ?').get(status) as { n: number }).n;
  const fileMb = (file: string) => (existsSync(file) ? statSync(file).size / 1e6 : 0);
  return {
    pending: async () => {
      try {
        return count('pending');
      } catch {
        return undefined;
      }
    },
    dead: async () => count('dead'),
    sizeMb: async () => fileMb(path) + fileMb(`${path}-wal`),
    close: async () => void db?.close(),
  };
}

export function postgresView(url: string): StoreView {
  const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  const one = async (sql: string, values: unknown[] = []) => Number(((await pool.query(sql, values)).rows[0] as { n: string }).n);
  return {
    pending: () => one("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'").catch(() => undefined),
    dead: () => one("SELECT count(*) AS n FROM deliveries WHERE status = 'dead'"),
    sizeMb: () => one('SELECT pg_database_size(current_database()) AS n').then((bytes) => bytes / 1e6, () => undefined),
    close: () => pool.end(),
  };
}

/**
 * A tmpfs of `sizeMb` at `dir` for the SQLite file, so the disk can be filled
 * without touching the machine's: only as root (mount needs it). Resolves with
 * why it could not be mounted, or undefined when it is.
 */
export function mountTmpfs(dir: string, sizeMb: number): string | undefined {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0) return 'not running as root: mounting a tmpfs needs root';
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) return `mount -t tmpfs failed: ${(result.stderr || String(result.error)).trim()}`;
  return undefined;
}

export function unmountTmpfs(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/** Fills the filesystem holding `dir` with one file until the write fails with ENOSPC; the returned function frees it. */
export function fillDisk(dir: string): () => void {
  const path = `${dir}/chaos-filler`;
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (let written = chunk.length; written > 0; ) {
      try {
        written = writeSync(fd, chunk);
      } catch {
        break;
      }
    }
    // What is left after the last whole megabyte, a byte at a time in shrinking writes.
    for (let size = 1 << 19; size >= 1; size >>= 1) {
      try {
        while (writeSync(fd, chunk, 0, size) > 0);
      } catch {
        // full at this size: try a smaller one
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => unlinkSync(path);
}

/** Another connection holding BEGIN IMMEDIATE on the SQLite file (an operator's shell would); the returned function lets go. */
export function holdWriteLock(path: string): () => void {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.exec('BEGIN IMMEDIATE');
  return () => {
    db.exec('ROLLBACK');
    db.close();
  };
}
