const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the parsed YAML
 * (after parsing, so a value can never change the document's structure).
 * `$$` stands for a literal `$`. Returns the problems with their key paths.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path = '',
  problems: string[] = [],
): { value: unknown; problems: string[] } {
  if (typeof value === 'string') {
    const replaced = value.replace(VARIABLE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$';
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
