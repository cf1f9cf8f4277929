import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import type { TranscriptSegment } from '../../src/sdk/index.js';
import type { TranscriptDocument } from './markdown.js';

/** One live line as stored in `<call>.jsonl`. */
export interface LiveLine {
  readonly event_id: string;
  readonly time: string | null;
  readonly speaker: string | null;
  readonly text: string;
}

/** Opens `path`, hands the file to `use`, and closes it whatever happens. */
async function withFile(path: string, flags: string, use: (file: FileHandle) => Promise<void>): Promise<void> {
  const file = await open(path, flags);
  try {
    await use(file);
  } finally {
    await file.close();
  }
}

/** Writes `text` to `path` so that a reader sees the old file or the new one, never half of one, even after a crash. */
export async function writeAtomically(folder: string, path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    await withFile(temporary, 'wx', async (file) => {
      await file.writeFile(text);
      await file.sync();
    });
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
  // The rename itself is durable once the folder is synced.
  await withFile(folder, 'r', (directory) => directory.sync());
}

export function appendDurably(path: string, line: string): Promise<void> {
  return withFile(path, 'a', async (file) => {
    await file.appendFile(line);
    await file.sync();
  });
}

/** The live lines of a call in time order, each once (a resent segment may have been appended twice). */
export async function readLive(path: string): Promise<TranscriptSegment[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const seen = new Set<string>();
  const lines: LiveLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: LiveLine;
    try {
      line = JSON.parse(raw) as LiveLine;
    } catch {
      continue; // a line cut short by a power loss before its fsync
    }
    if (seen.has(line.event_id)) continue;
    seen.add(line.event_id);
    lines.push(line);
  }
  return lines
    .map((line, index) => ({ line, index }))
    .sort((a, b) => ((a.line.time ?? '') < (b.line.time ?? '') ? -1 : (a.line.time ?? '') > (b.line.time ?? '') ? 1 : a.index - b.index))
    .map(({ line }) => ({ speaker: line.speaker ?? null, text: line.text, time: line.time ?? null }));
}

/** Where the finished document at `path` came from, if there is one. */
export async function readSource(path: string): Promise<TranscriptDocument['transcript_source'] | undefined> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as TranscriptDocument).transcript_source;
  } catch {
    return undefined;
  }
}
