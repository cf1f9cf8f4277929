import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BridgeError } from '../errors.js';

/**
 * A subscription's secrets file (`secret_file`): one signing secret per line,
 * newest first, each optionally followed by ` expires=<ISO 8601>`. Blank lines
 * and lines starting with `#` are ignored. The source the subscription names
 * accepts every secret of the file that has not expired, besides its own
 * `verify.hmac.secrets`. Written whole to a new file and renamed over the old
 * one, so a reader sees either file, never half of one; 0600 in a 0700 directory.
 */

export interface SecretEntry {
  readonly secret: string;
  /** When it stops being accepted (ms); absent: until removed. */
  readonly expiresAt?: number;
}

export interface ParsedSecrets {
  readonly entries: readonly SecretEntry[];
  /** Lines that are not `SECRET [expires=ISO 8601]`, by number; their text is never repeated (it may be a secret). */
  readonly problems: readonly { readonly line: number; readonly reason: string }[];
}

const LINE = /^(\S+)(?:\s+expires=(\S+))?$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function parseSecrets(text: string): ParsedSecrets {
  const entries: SecretEntry[] = [];
  const problems: { line: number; reason: string }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = LINE.exec(line);
    if (!match) {
      problems.push({ line: index + 1, reason: 'not "SECRET" or "SECRET expires=ISO 8601" (a secret holds no spaces)' });
      return;
    }
    const [, secret, expires] = match as unknown as [string, string, string | undefined];
    if (expires === undefined) {
      entries.push({ secret });
      return;
    }
    const at = ISO_TIME.test(expires) ? Date.parse(expires) : Number.NaN;
    if (Number.isNaN(at)) problems.push({ line: index + 1, reason: 'expires= is not an ISO 8601 time such as 2026-03-01T12:00:00Z' });
    else entries.push({ secret, expiresAt: at });
  });
  return { entries, problems };
}

export function formatSecrets(entries: readonly SecretEntry[]): string {
  return entries.map((entry) => (entry.expiresAt === undefined ? entry.secret : `${entry.secret} expires=${new Date(entry.expiresAt).toISOString()}`)).join('\n') + '\n';
}

/** The secrets still accepted at `now`: a secret stops being accepted at its expiry. */
export function unexpiredSecrets(entries: readonly SecretEntry[], now: number): string[] {
  return entries.filter((entry) => entry.expiresAt === undefined || entry.expiresAt > now).map((entry) => entry.secret);
}

/**
 * The file after a new secret: it goes first; every older one still valid
 * stays, accepted until `now + overlapMs` at the latest; expired ones go.
 */
export function withNewSecret(entries: readonly SecretEntry[], secret: string, now: number, overlapMs: number): SecretEntry[] {
  const until = now + overlapMs;
  const older = entries
    .filter((entry) => entry.secret !== secret && (entry.expiresAt === undefined || entry.expiresAt > now))
    .map((entry) => ({ secret: entry.secret, expiresAt: Math.min(entry.expiresAt ?? until, until) }));
  return [{ secret }, ...older];
}

/** A relative `secret_file` is taken from the working directory, as `store.path` is. */
export function resolveSecretFile(path: string, cwd: string = process.cwd()): string {
  return resolve(cwd, path);
}

/** The file's entries; none when it does not exist yet. A line that cannot be read is SECRET_FILE_INVALID: the file is not rewritten over it. */
export async function readSecretsFile(path: string): Promise<readonly SecretEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BridgeError('SECRET_FILE_INVALID', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const { entries, problems } = parseSecrets(text);
  if (problems.length > 0) {
    throw new BridgeError('SECRET_FILE_INVALID', `${path}: ${problems.map((problem) => `line ${problem.line}: ${problem.reason}`).join('; ')}; fix or remove those lines`);
  }
  return entries;
}

/** Makes the file's directory (0700) when missing. */
export async function ensureSecretsDir(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BridgeError('SECRET_FILE_INVALID', `cannot create the directory of ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * A file ready to take the new content: created (0600) and proven writable
 * before the provider is asked for a secret, so an answer is never lost to a
 * directory that cannot be written. `commit` writes, syncs and renames it over
 * the secrets file; `discard` removes it.
 */
export async function prepareSecretsWrite(path: string) {
  await ensureSecretsDir(path);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temporary, 'wx', 0o600);
  } catch (err) {
    throw new BridgeError('SECRET_FILE_INVALID', `cannot write beside ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const file = handle;
  return {
    async commit(entries: readonly SecretEntry[]): Promise<void> {
      try {
        await file.writeFile(formatSecrets(entries), 'utf8');
        await file.sync();
        await file.close();
        await rename(temporary, path);
      } catch (err) {
        await file.close().catch(() => undefined);
        await rm(temporary, { force: true });
        throw new BridgeError('SECRET_FILE_INVALID', `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    },
    async discard(): Promise<void> {
      await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
    },
  };
}

/** Writes the whole file at once (prepared, written, renamed). */
export async function writeSecretsFile(path: string, entries: readonly SecretEntry[]): Promise<void> {
  const write = await prepareSecretsWrite(path);
  await write.commit(entries);
}

/**
 * Asks for a new secret (`obtain` calls the provider) with the file proven
 * writable first, then writes it above the older ones (`withNewSecret`): a
 * secret the provider answered is never lost to a file that cannot be written.
 */
export async function storeNewSecret<T extends { secret: string }>(
  path: string,
  obtain: () => Promise<T>,
  options: { now: () => number; overlapMs: number },
): Promise<T & { entries: readonly SecretEntry[] }> {
  const entries = await readSecretsFile(path);
  const write = await prepareSecretsWrite(path);
  let obtained: T;
  try {
    obtained = await obtain();
  } catch (err) {
    await write.discard();
    throw err;
  }
  const next = withNewSecret(entries, obtained.secret, options.now(), options.overlapMs);
  try {
    await write.commit(next);
  } catch (err) {
    throw new BridgeError('SECRET_FILE_INVALID', `the provider now signs with a new secret, but ${(err as Error).message}; free the disk or fix the permissions and run the command again`);
  }
  return { ...obtained, entries: next };
}
