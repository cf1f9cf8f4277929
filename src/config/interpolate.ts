const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A `${VAR}` without a default whose variable is not set, at a key path. */
export interface MissingVariable {
  readonly path: string;
  readonly name: string;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of the parsed YAML
 * (after parsing, so a value can never change the document's structure).
 * `$$` stands for a literal `$`. Returns the unset variables with their key paths.
 */
export function interpolateEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  path = '',
  missing: MissingVariable[] = [],
): { value: unknown; missing: MissingVariable[] } {
  if (typeof value === 'string') {
    const replaced = value.replace(VARIABLE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$';
      const found = env[name as string];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      missing.push({ path: path || '(root)', name: name as string });
      return '';
    });
    return { value: replaced, missing };
  }
  if (Array.isArray(value)) {
    return { value: value.map((item, index) => interpolateEnv(item, env, `${path}[${index}]`, missing).value), missing };
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = interpolateEnv(item, env, path ? `${path}.${key}` : key, missing).value;
    }
    return { value: out, missing };
  }
  return { value, missing };
}
