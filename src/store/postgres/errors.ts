import { storeErrors, type DriverFailure } from '../core/errors.js';
import { retrying, type ContentionPolicy } from '../retry.js';

/** The SQLSTATE of a server error, when `err` is one. */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Failures that say the server cannot answer now, not that the request was
 * wrong: the connection is refused, reset or was terminated, the pool timed out,
 * TLS or login failed (class 28, a database that does not exist: 3D000), the
 * server is shutting down or starting (57P01-57P03), out of connections or disk
 * (class 53), a standby after a failover (25006), or a system error (class 58).
 * Constraint violations and syntax errors are bugs and are none of these.
 */
export function isUnavailable(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return /^(08|28|53|57P0[123]|58)/.test(state) || state === '25006' || state === '3D000';
  if (!(err instanceof Error)) return false;
  const nodeCode = (err as NodeJS.ErrnoException).code;
  if (nodeCode && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$|CERT|TLS|SSL/.test(nodeCode)) return true;
  // node-postgres reports its own connection failures by message only.
  return /connection terminated|timeout exceeded when trying to connect|not queryable|cannot use a pool after calling end|connection error|does not support SSL/i.test(
    err.message,
  );
}

/** Two transactions locked each other (40P01) or a serializable one lost (40001): the same work may simply run again. */
export function isContention(err: unknown): boolean {
  const state = sqlState(err);
  return state === '40P01' || state === '40001';
}

/**
 * The driver's failures the store answers with its own error: a right the user
 * of store.url lacks (42501); the server cannot answer now (`isUnavailable`),
 * or the work lost to another writer (`isContention`) past its retries.
 */
export const postgresFailure: DriverFailure = (err) => {
  const state = sqlState(err);
  if (state === '42501') return { code: 'STORE_PERMISSION_DENIED', user: 'the PostgreSQL user of store.url', right: neededRight((err as Error).message) };
  if (!isUnavailable(err) && !isContention(err)) return undefined;
  return { code: 'STORE_UNAVAILABLE', detail: state ? ` (${state})` : '', hint: '; is the server up and store.url right?' };
};

/** The core's mapping of those failures to the store's errors, for opening the store. */
export const { toStoreError } = storeErrors('PostgreSQL', postgresFailure);

/**
 * The right the user of store.url lacks (42501), from PostgreSQL's message: it names the object, and what the
 * bridge does with that kind of object names the right.
 */
function neededRight(said: string): string {
  const [, kind, name] = /^permission denied for (schema|table|relation|sequence|database) (.+)$/.exec(said) ?? [];
  if (kind === 'schema') {
    return `CREATE on schema ${name}, which the first start and upgrades need to create and change the bridge's tables: grant it, or run them as a user that has it`;
  }
  if (kind === 'table' || kind === 'relation') return `SELECT, INSERT, UPDATE and DELETE on table ${name}: grant them`;
  if (kind === 'sequence') return `USAGE on sequence ${name}: grant it`;
  if (kind === 'database') return `CREATE on database ${name}: grant it`;
  const owned = /^must be owner of (\w+) (.+)$/.exec(said);
  if (owned) return `ownership of ${owned[1]} ${owned[2]}, which an upgrade needs to change it: run the upgrade as its owner`;
  return 'a right the bridge needs';
}

/** A failure of the store's own making that is retried like PostgreSQL's serialization failure (40001). */
export function contention(message: string): Error {
  return Object.assign(new Error(message), { code: '40001' });
}

/** Short waits before running a deadlocked or serialization-failed transaction again; then the caller hears STORE_UNAVAILABLE. */
const CONTENTION: ContentionPolicy = {
  waitsMs: [0, 5, 10, 20, 40, 80, 160],
  retriable: isContention,
  // Two replicas that deadlocked should not meet again in step.
  jitter: 1,
};

export const retryingContention = <T>(task: () => Promise<T>): Promise<T> => retrying(CONTENTION, task);
