import { readFileSync } from 'node:fs';

/** One `${file:path}`, `${VAR}` or `${VAR:-default}`; config.schema.json accepts a string holding one wherever a value may be given. */
export const PLACEHOLDER = /\$\{file:([^}]+)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/;
const VARIABLE = new RegExp(`\\$\\$|${PLACEHOLDER.source}`, 'g');

/** A `${VAR}` without a default whose variable is not set, at a key path. */
export interface MissingVariable {
  readonly path: string;
  readonly name: string;
}

/** A `${file:...}` whose file cannot be read or is empty, at a key path. */
export interface UnreadableFile {
  readonly path: string;
  readonly file: string;
  readonly reason: string;
}

export interface Interpolated {
  readonly value: unknown;
  readonly missing: MissingVariable[];
  readonly unreadable: UnreadableFile[];
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the parsed YAML
 * (after parsing, so a value can never change the document's structure).
 * `${file:/run/secrets/x}` is the file's content without its trailing line
 * break (mounted secrets: a reload reads them again, so they can rotate).
 * `$$` stands for a literal `$`. Returns what could not be filled in, with key paths.
 */
export function interpolateEnv(value: unknown, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: MissingVariable[] = [];
  const unreadable: UnreadableFile[] = [];

  function fill(item: unknown, path: string): unknown {
    if (typeof item === 'string') {
      return item.replace(VARIABLE, (whole, file: string | undefined, name: string | undefined, fallback: string | undefined) => {
        if (whole === '$$') return '$';
        if (file !== undefined) return readSecretFile(file, path || '(root)', unreadable);
        const found = env[name as string];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        missing.push({ path: path || '(root)', name: name as string });
        return '';
      });
    }
    if (Array.isArray(item)) return item.map((element, index) => fill(element, `${path}[${index}]`));
    if (typeof item === 'object' && item !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, element] of Object.entries(item)) out[key] = fill(element, path ? `${path}.${key}` : key);
      return out;
    }
    return item;
  }

  return { value: fill(value, ''), missing, unreadable };
}

function readSecretFile(file: string, path: string, unreadable: UnreadableFile[]): string {
  try {
    const content = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (content !== '') return content;
    unreadable.push({ path, file, reason: 'it is empty' });
  } catch (err) {
    unreadable.push({ path, file, reason: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
  }
  return '';
}
