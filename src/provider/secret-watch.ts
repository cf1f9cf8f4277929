import { mkdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { parseSecrets, type SecretEntry } from './secrets-file.js';

/**
 * Keeps the running bridge's copy of each subscription's secrets file
 * current: the file's directory is watched (`rotate` and `apply` rename a new
 * file over the old one, which a watch on the file itself would lose), and
 * every `pollMs` each file is compared by inode, size and mtime, for file
 * systems where watching tells nothing (network mounts, some containers).
 * A change is seen within `pollMs` at the latest. Expiry is not decided here:
 * the entries go to verification as they are, with their expiry, and
 * verification compares it with the request's time.
 */

export interface SecretFileWatcherDeps {
  readonly logger: Logger;
  /** The fallback's interval (default 1 s). */
  readonly pollMs?: number;
  /** Node's `fs.watch`, or a stand-in (tests: one that fails, as on file systems that cannot be watched). */
  readonly watch?: typeof watch;
}

interface Watched {
  entries: readonly SecretEntry[];
  signature: string;
  watcher: FSWatcher | undefined;
}

function signatureOf(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export function createSecretFileWatcher(deps: SecretFileWatcherDeps) {
  const logger = deps.logger.child({ component: 'secrets' });
  const files = new Map<string, Watched>();
  let timer: NodeJS.Timeout | undefined;

  /** Reads the file again if it changed; a missing file holds no secrets yet. */
  function refresh(path: string, force = false): void {
    const state = files.get(path);
    if (!state) return;
    const signature = signatureOf(path);
    if (!force && signature === state.signature) return;
    state.signature = signature;
    let text = '';
    try {
      text = signature === 'missing' ? '' : readFileSync(path, 'utf8');
    } catch (err) {
      logger.error({ file: path, code: (err as NodeJS.ErrnoException).code }, 'cannot read a secrets file; the secrets read before stay in force');
      return;
    }
    const { entries, problems } = parseSecrets(text);
    // Line numbers only: a line that could not be read may still be a secret.
    if (problems.length > 0) logger.error({ file: path, lines: problems.map((problem) => problem.line) }, 'secrets file lines skipped: not "SECRET [expires=ISO 8601]"');
    state.entries = entries;
    logger.info({ file: path, secrets: entries.length, present: signature !== 'missing' }, 'secrets file read');
  }

  function watchDirectory(path: string): FSWatcher | undefined {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const watcher = (deps.watch ?? watch)(dirname(path), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(path)) refresh(path);
      });
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch (err) {
      logger.warn({ file: path, code: (err as NodeJS.ErrnoException).code }, 'cannot watch the directory of a secrets file; it is checked every poll interval instead');
      return undefined;
    }
  }

  function start(path: string): void {
    files.set(path, { entries: [], signature: '', watcher: undefined });
    refresh(path, true);
    files.get(path)!.watcher = watchDirectory(path);
  }

  return {
    /** Watches exactly these files from now on (read at once, so their secrets are in force on return). */
    track(paths: readonly string[]): void {
      const wanted = new Set(paths);
      for (const [path, state] of files) {
        if (wanted.has(path)) continue;
        state.watcher?.close();
        files.delete(path);
      }
      for (const path of wanted) if (!files.has(path)) start(path);
      if (files.size > 0 && timer === undefined) {
        timer = setInterval(() => {
          for (const path of files.keys()) refresh(path);
        }, deps.pollMs ?? 1_000);
        timer.unref();
      }
    },
    /** The file's entries as last read, expired ones included (verification decides at each request's time). */
    entries(path: string): readonly SecretEntry[] {
      return files.get(path)?.entries ?? [];
    },
    close(): void {
      clearInterval(timer);
      timer = undefined;
      for (const state of files.values()) state.watcher?.close();
      files.clear();
    },
  };
}

export type SecretFileWatcher = ReturnType<typeof createSecretFileWatcher>;
