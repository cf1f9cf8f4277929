import { readFileSync } from 'node:fs';

const VARIABLE = /\$\$|\$\{file:([^}]+)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the parsed YAML
 * (after parsing, so a value can never change the document's structure).
 * `${file:/run/secrets/x}` is the file's content without its trailing line
 * break (mounted secrets: a reload reads them again, so they can rotate).
 * `$$` stands for a literal `$`. Returns the problems with their key paths.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path = '',
  problems: string[] = [],
): { value: unknown; problems: string[] } {
  if (typeof value === 'string') {
    const replaced = value.replace(VARIABLE, (whole, file: string | undefined, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$';
      if (file !== undefined) return readSecretFile(file, path, problems);
      const found = env[name as string];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${path || '(root)'}: environment variable ${name} is not set (write \${${name}:-default} for a default)`);
      return '';
    });
    return { value: replaced, problems };
  }
  if (Array.isArray(value)) {
    return { value: value.map((item, index) => interpolateEnv(item, env, `${path}[${index}]`, problems).value), problems };
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolateEnv(item, env, path ? `${path}.${key}` : key, problems).value;
    }
    return { value: out, problems };
  }
  return { value, problems };
}

function readSecretFile(file: string, path: string, problems: string[]): string {
  try {
    const content = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (content !== '') return content;
    problems.push(`${path || '(root)'}: file ${file} is empty`);
  } catch (err) {
    problems.push(`${path || '(root)'}: cannot read file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return '';
}
