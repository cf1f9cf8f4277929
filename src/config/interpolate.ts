import { readRegularFileSync, type FileRead } from './files.js';

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

/** Text put into a string at a key path from outside the YAML: a variable's value or a file's content. */
export interface Substitution {
  readonly path: string;
  /** Where it came from, for people: `environment variable NAME`, `file /run/secrets/x`. */
  readonly from: string;
  readonly text: string;
}

export interface Interpolated {
  readonly value: unknown;
  readonly missing: MissingVariable[];
  readonly unreadable: UnreadableFile[];
  /** Every substitution made, so that messages can keep what was read out of sight. */
  readonly substituted: Substitution[];
}

/** What `${file:...}` reads: a file's text, or why there is none. */
export type SecretFileReader = (file: string) => FileRead;

/** The files a parsed document names with `${file:...}`, in any string at any depth. */
export function secretFilesIn(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(VARIABLE)].flatMap((match) => (match[1] === undefined ? [] : [match[1]]));
  if (Array.isArray(value)) return value.flatMap(secretFilesIn);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(secretFilesIn);
  return [];
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the parsed YAML
 * (after parsing, so a value can never change the document's structure).
 * `${file:/run/secrets/x}` is the file's content without its trailing line
 * break (mounted secrets: a reload reads them again, so they can rotate), as
 * `readFile` gives it: read beforehand by the loader (src/config/load.ts),
 * else here, synchronously. `$$` stands for a literal `$`. Returns what could
 * not be filled in, with key paths; an unset variable becomes `standIn(name)`
 * when given (a command that does not use the value), else the empty string.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  readFile: SecretFileReader = readRegularFileSync,
  standIn?: (name: string) => string,
): Interpolated {
  const missing: MissingVariable[] = [];
  const unreadable: UnreadableFile[] = [];
  const substituted: Substitution[] = [];

  function fill(item: unknown, path: string): unknown {
    if (typeof item === 'string') {
      const at = path || '(root)';
      return item.replace(VARIABLE, (whole, file: string | undefined, name: string | undefined, fallback: string | undefined) => {
        if (whole === '$$') return '$';
        if (file !== undefined) {
          const text = secretText(readFile(file), file, at, unreadable);
          if (text !== '') substituted.push({ path: at, from: `file ${file}`, text });
          return text;
        }
        const found = env[name as string];
        if (found !== undefined && found !== '') {
          substituted.push({ path: at, from: `environment variable ${name as string}`, text: found });
          return found;
        }
        if (fallback !== undefined) return fallback;
        missing.push({ path: at, name: name as string });
        return standIn?.(name as string) ?? '';
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

  return { value: fill(value, ''), missing, unreadable, substituted };
}

function secretText(read: FileRead, file: string, path: string, unreadable: UnreadableFile[]): string {
  if ('reason' in read) {
    unreadable.push({ path, file, reason: read.reason });
    return '';
  }
  const content = read.content.replace(/\r?\n$/, '');
  if (content === '') unreadable.push({ path, file, reason: 'it is empty' });
  return content;
}
