import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { ProbeResult } from '../src/sdk/index.js';

/**
 * Whether files can be written in `dir`: it exists or can be created, and a
 * temporary file can be created in it and removed. Folders the probe had to
 * create are removed again (if still empty), so probing leaves the disk as it
 * found it. A failure names the error code and the path it concerns
 * (`EACCES on /var/lib/bridge`, `ENOTDIR on ...`, `ENOSPC on ...`).
 */
export async function probeDirectory(dir: string): Promise<ProbeResult> {
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { ok: false, reason: `ENOTDIR on ${dir}: a file stands where the directory should be` };
    return failure(err, dir, 'cannot create the directory');
  }
  const temporary = resolve(dir, `.audian-bridge-probe-${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temporary, 'wx');
    await file.close();
    await unlink(temporary);
    return { ok: true, detail: `${dir} is writable` };
  } catch (err) {
    return failure(err, dir, 'cannot write in the directory');
  } finally {
    if (created !== undefined) await removeCreated(resolve(dir), resolve(created));
  }
}

/**
 * Whether `path` can be appended to: its directory is writable (see
 * `probeDirectory`), and the file, where it exists already, is a file this
 * process may write. Nothing is written to it.
 */
export async function probeAppendable(path: string): Promise<ProbeResult> {
  const folder = await probeDirectory(dirname(path));
  if (!folder.ok) return folder;
  try {
    const found = await stat(path);
    if (found.isDirectory()) return { ok: false, reason: `EISDIR on ${path}: a directory stands where the file should be` };
    await access(path, constants.W_OK);
    return { ok: true, detail: `${path} can be appended to` };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, detail: `${dirname(path)} is writable (${path} is created at the first event)` };
    return failure(err, path, 'cannot write the file');
  }
}

/** `EACCES on PATH (what)`: the path the operator knows (the configured one), not the probe's temporary file. */
function failure(err: unknown, path: string, what: string): ProbeResult {
  const error = err as NodeJS.ErrnoException;
  if (typeof error.code !== 'string') return { ok: false, reason: `${what} ${path}: ${error.message ?? String(err)}` };
  return { ok: false, reason: `${error.code} on ${path} (${what})` };
}

/** Removes the empty folders from `dir` up to `top`, which `mkdir` created; one another process filled stays. */
async function removeCreated(dir: string, top: string): Promise<void> {
  let current = dir;
  while (!relative(top, current).startsWith('..')) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === top) return;
    current = dirname(current);
  }
}
