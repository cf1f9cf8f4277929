import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reading the files a config names (the config itself, `${file:...}` secrets,
 * PEM files) without ever waiting on something that is not a file. A FIFO
 * opened for reading blocks until a writer comes, a device may never end:
 * each is opened without blocking (O_NONBLOCK), checked to be a regular file,
 * and only then read. The asynchronous reads also have a time limit, so a hung
 * network mount fails a reload instead of holding it forever; they run on
 * libuv's thread pool, never on the event loop.
 */

/** A file's text, or why it could not be had. */
export type FileRead = { readonly content: string } | { readonly reason: string };

/** How long one config load may wait for its files: the config and every `${file:...}` together. */
export const FILE_READ_TIMEOUT_MS = 5_000;

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Why `stats` is not something to read, or undefined for a regular file. */
function notRegular(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  const kind = stats.isFIFO()
    ? 'a FIFO (named pipe)'
    : stats.isDirectory()
      ? 'a directory'
      : stats.isCharacterDevice() || stats.isBlockDevice()
        ? 'a device'
        : stats.isSocket()
          ? 'a socket'
          : 'something other than a file';
  return `it is ${kind}, not a regular file`;
}

function cannotRead(err: unknown): FileRead {
  return { reason: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
}

/** Reads a regular file as UTF-8 without blocking the event loop; anything else is refused at once. */
async function readRegularFile(path: string): Promise<FileRead> {
  let handle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    return cannotRead(err);
  }
  try {
    const refused = notRegular(await handle.stat());
    return refused ? { reason: refused } : { content: await handle.readFile('utf8') };
  } catch (err) {
    return cannotRead(err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads every file in `paths` at once, each a regular file, all within
 * `timeoutMs`; a read still running then is reported as too slow (the
 * thread-pool thread it holds is left to it).
 */
export async function readRegularFiles(paths: readonly string[], timeoutMs = FILE_READ_TIMEOUT_MS): Promise<ReadonlyMap<string, FileRead>> {
  const unique = [...new Set(paths)];
  if (unique.length === 0) return new Map();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<FileRead>((resolve) => {
    timer = setTimeout(() => resolve({ reason: `it could not be read within ${timeoutMs} ms (a hung network mount?)` }), timeoutMs);
  });
  try {
    const reads = await Promise.all(unique.map((path) => Promise.race([readRegularFile(path), late])));
    return new Map(unique.map((path, index) => [path, reads[index]!]));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The synchronous form, for what must be read while a schema is checked (a
 * PEM file's path) or by a caller that parses a config synchronously: it
 * refuses what is not a regular file as the asynchronous one does, but has no
 * time limit.
 */
export function readRegularFileSync(path: string): FileRead {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return cannotRead(err);
  }
  try {
    const refused = notRegular(fstatSync(fd));
    return refused ? { reason: refused } : { content: readFileSync(fd, 'utf8') };
  } catch (err) {
    return cannotRead(err);
  } finally {
    closeSync(fd);
  }
}
