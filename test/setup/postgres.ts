import type { TestProject } from 'vitest/node';
import { ownServerUnavailable, POSTGRES_TOOLS_MISSING, PostgresScriptError, startScriptPostgres, type ScriptPostgres } from '../../scripts/postgres-server.js';
import { skipOrFail } from './skip-or-fail.js';

/**
 * vitest globalSetup: a real PostgreSQL server for the PostgreSQL tests.
 *
 * - `AUDIAN_TEST_POSTGRES_URL` set (an existing server, or the one `.ci/run`
 *   started): used as it is, and left running. It must be a superuser URL:
 *   tests create (and drop) databases of their own on it.
 * - else `scripts/postgres.sh start` starts a server for this run alone (its
 *   own run directory, a free port, 127.0.0.1 only), and teardown stops it and
 *   removes its directory.
 *
 * Without server binaries the PostgreSQL tests are skipped with a message
 * (each describe's title says why), except under CI=true, where that fails
 * the run. The same check tells the tests that stop a server of their own
 * whether they can start one.
 */

export interface PostgresTestEnv {
  /** A superuser URL of a running server, or null when the PostgreSQL tests are skipped. */
  readonly url: string | null;
  /** Why the PostgreSQL tests are skipped, when they are. */
  readonly skipReason: string | null;
  /** Why tests that start (and stop) a server of their own are skipped, when they are. */
  readonly ownServerSkipReason: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresTestEnv;
  }
}

/** What makes the skipped tests run. */
const REMEDY = 'Install the PostgreSQL server (Debian: apt-get install postgresql) or set AUDIAN_TEST_POSTGRES_URL.';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.AUDIAN_TEST_POSTGRES_URL?.trim();
  if (given) {
    const reason = await ownServerUnavailable();
    if (reason) skipOrFail('PostgreSQL tests that start their own server', reason, REMEDY);
    process.stderr.write(`postgres tests: using AUDIAN_TEST_POSTGRES_URL=${redacted(given)}\n`);
    project.provide('postgres', { url: given, skipReason: null, ownServerSkipReason: reason });
    return undefined;
  }

  process.stderr.write('postgres tests: starting a server with scripts/postgres.sh start ...\n');
  let server: ScriptPostgres;
  try {
    server = await startScriptPostgres();
  } catch (err) {
    if (err instanceof PostgresScriptError && err.code === POSTGRES_TOOLS_MISSING) {
      const reason = err.message.split('\n').slice(1).join(' ').replace(/^postgres\.sh: /, '') || 'no PostgreSQL server binaries';
      skipOrFail('PostgreSQL tests', reason, REMEDY);
      project.provide('postgres', { url: null, skipReason: reason, ownServerSkipReason: reason });
      return undefined;
    }
    // A server that should start and does not is a failure everywhere.
    throw err;
  }
  process.stderr.write(`postgres tests: server ready at ${server.url}\n`);
  project.provide('postgres', { url: server.url, skipReason: null, ownServerSkipReason: null });
  return async () => {
    await server.destroy().catch((err: unknown) => process.stderr.write(`${(err as Error).message}\n`));
  };
}

/** The URL without its password, for the log. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}
