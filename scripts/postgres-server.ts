import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUp, freePort, runScript } from './kafka-broker.js';

/**
 * Local PostgreSQL servers from scripts/postgres.sh, for the test suite's
 * global setup, the tests that stop a server of their own and the replica
 * benchmark: each server in a fresh run directory on a free port, so
 * stopping one never touches another.
 */

/** scripts/postgres.sh, found from wherever this module runs (its source, or its build under dist/). */
export const POSTGRES_SCRIPT = findUp(join('scripts', 'postgres.sh'));

/** postgres.sh's exit code when no server binaries are found. */
export const POSTGRES_TOOLS_MISSING = 3;

/** initdb and a start take a second or two; a loaded machine gets much longer. */
const SCRIPT_TIMEOUT_MS = 2 * 60_000;

export class PostgresScriptError extends Error {
  constructor(
    readonly code: number | null,
    message: string,
  ) {
    super(message);
  }
}

export interface ScriptPostgres {
  /** A superuser URL (`postgres://bridge@127.0.0.1:<port>/postgres`): create databases of your own from it. */
  readonly url: string;
  /** Stops the server (fast shutdown: open sessions are ended); its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the data it had. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/** A server started by scripts/postgres.sh in a fresh run directory on a free port. */
export async function startScriptPostgres(): Promise<ScriptPostgres> {
  const runDir = mkdtempSync(join(tmpdir(), 'audian-bridge-pg-'));
  // As root the script hands the directory to the `postgres` user, who must reach it.
  chmodSync(runDir, 0o755);
  const env = { POSTGRES_RUN_DIR: runDir, POSTGRES_PORT: String(await freePort()) };
  const run = async (command: 'start' | 'stop', keepData: boolean) => {
    const result = await runScript(POSTGRES_SCRIPT, command, { ...env, POSTGRES_KEEP_DATA: keepData ? '1' : '0' }, SCRIPT_TIMEOUT_MS);
    if (result.code !== 0) throw new PostgresScriptError(result.code, `scripts/postgres.sh ${command} failed (exit ${result.code}):\n${result.stderr.trim()}`);
    return result.stdout;
  };
  const start = async (keepData: boolean) => {
    const url = /^POSTGRES_URL=(\S+)$/m.exec(await run('start', keepData))?.[1];
    if (!url) throw new PostgresScriptError(1, 'scripts/postgres.sh start printed no POSTGRES_URL');
    return url;
  };
  let url: string;
  try {
    url = await start(false);
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    stop: async () => void (await run('stop', true)),
    restart: async () => void (await start(true)),
    async destroy() {
      try {
        await run('stop', true);
      } finally {
        rmSync(runDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Why servers of one's own cannot be started here (no server binaries), or
 * null when they can: `postgres.sh status` on a directory that holds no
 * cluster exits 3 without binaries and 1 with them.
 */
export async function ownServerUnavailable(): Promise<string | null> {
  const probe = await runScript(POSTGRES_SCRIPT, 'status', { POSTGRES_RUN_DIR: join(tmpdir(), 'audian-bridge-pg-probe-none') }, SCRIPT_TIMEOUT_MS);
  return probe.code === POSTGRES_TOOLS_MISSING ? probe.stderr.trim().replace(/^postgres\.sh: /, '') : null;
}

/** `url` with another database name: a test's own database on the server `url` names. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
