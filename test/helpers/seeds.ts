import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The provider's documents; every JSON example in them is a test input. A copy
 * lives in the repository so the tests run from a clean clone anywhere;
 * AUDIAN_SEEDS_DIR points them at another set (the seeds test also checks the
 * copy against the shared originals when they sit beside the repository).
 */
export const SEEDS_DIR = process.env.AUDIAN_SEEDS_DIR ?? fileURLToPath(new URL('../fixtures/seeds/', import.meta.url));
export const SHARED_SEEDS_DIR = fileURLToPath(new URL('../../../shared/seeds/', import.meta.url));

export interface SeedExample {
  /** `<seed file prefix>:<line>` — stable as long as the document is. */
  readonly ref: string;
  readonly file: string;
  readonly line: number;
  /** The example's text exactly as the document gives it. */
  readonly text: string;
}

/**
 * Every JSON object example in the seed documents: a line that opens with `{`
 * (or a curl `-d '{`) up to its balanced closing brace. The documents are
 * plain text scraped from HTML, so this is the only structure they have.
 */
export function seedExamples(dir = SEEDS_DIR): SeedExample[] {
  const examples: SeedExample[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.txt')).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    for (let index = 0; index < lines.length; index++) {
      const first = lines[index]!.trim();
      const opening = first.startsWith('{') ? first : first.startsWith("-d '{") ? first.slice(4) : undefined;
      if (opening === undefined) continue;
      const body = [opening];
      let depth = braceDelta(opening);
      let end = index;
      while (depth > 0 && end + 1 < lines.length) {
        end++;
        body.push(lines[end]!);
        depth += braceDelta(lines[end]!);
      }
      examples.push({ ref: `${file.slice(0, 3)}:${index + 1}`, file, line: index + 1, text: body.join('\n').replace(/'\s*$/, '') });
      index = end;
    }
  }
  return examples;
}

function braceDelta(line: string): number {
  let delta = 0;
  for (const char of line) {
    if (char === '{') delta++;
    else if (char === '}') delta--;
  }
  return delta;
}
