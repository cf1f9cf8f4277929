import type { z } from 'zod';
import { createConfigSchema, type BridgeConfig, type ConnectorSchemas } from './schema.js';
import { SECRET_VALUES } from './values.js';

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';

type Schema = z.core.$ZodType;

/** Per parsed config: the key paths whose strings hold a `${VAR}`, `${VAR:-default}` or `${file:...}` in the file. */
const FILLED = new WeakMap<object, ReadonlySet<string>>();

/** A `${...}` the loader fills in (interpolate.ts); a `$${` written for a literal one counts too, which only hides more. */
const VARIABLE = /\$\{(?:file:[^}]+|[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?)\}/;

/** The key paths of `document` (the file as parsed, before interpolation) whose strings name a variable or a file. */
function variablePaths(document: unknown, path = '', out: string[] = []): string[] {
  if (typeof document === 'string') {
    if (VARIABLE.test(document)) out.push(path || '(root)');
  } else if (Array.isArray(document)) {
    document.forEach((item, index) => variablePaths(item, join(path, index), out));
  } else if (isRecord(document)) {
    for (const [key, item] of Object.entries(document)) variablePaths(item, join(path, key), out);
  }
  return out;
}

/** Remembers which key paths of `config` came from the environment or a file, read off `document`; the loader calls it. */
export function recordFilled(config: unknown, document: unknown): void {
  if (typeof config === 'object' && config !== null) FILLED.set(config, new Set(variablePaths(document)));
}

/** Header names whose values are credentials, as the http connector's preview treats them. */
const SECRET_HEADER = /^(?:authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|password|auth|session|signature/i;
/** Query parameters whose values are credentials. */
const SECRET_PARAM = /token|secret|key|password|passwd|auth|session|signature|sig$/i;
/** `scheme://user:password@`, or `scheme://token@`: the user information of a URL (or URL template). */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s]*)@/i;
const QUERY_PARAM = /([?&])([^=&#]*)=([^&#]*)/g;

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The paths under `path` whose schema marks them secret (`secret()` in
 * values.ts), walking `value` with `schema`: through wrappers, both ends of a
 * pipe and every option of a union (a path marked by any of them is secret).
 */
function secretPaths(schema: Schema | undefined, value: unknown, path: string, out: Set<string>): void {
  for (let current = schema; current !== undefined; ) {
    if (SECRET_VALUES.has(current)) {
      out.add(path);
      return;
    }
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
    switch (def.type) {
      case 'default':
      case 'prefault':
      case 'optional':
      case 'nullable':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        current = def.innerType as Schema;
        continue;
      case 'pipe':
        secretPaths(def.in as Schema, value, path, out);
        current = def.out as Schema;
        continue;
      case 'union':
        for (const option of def.options as Schema[]) secretPaths(option, value, path, out);
        return;
      case 'object':
        if (isRecord(value)) for (const [key, item] of Object.entries(value)) secretPaths((def.shape as Record<string, Schema>)[key], item, join(path, key), out);
        return;
      case 'record':
        if (isRecord(value)) for (const [key, item] of Object.entries(value)) secretPaths(def.valueType as Schema, item, join(path, key), out);
        return;
      case 'array':
        if (Array.isArray(value)) value.forEach((item, index) => secretPaths(def.element as Schema, item, join(path, index), out));
        return;
      default:
        return;
    }
  }
}

/** A URL (or URL template) without the password of its user information, nor the values of credential-like query parameters. */
export function redactUrl(text: string): string {
  const withoutUser = text.replace(USER_INFO, (_whole, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    // `token@host` carries the credential as the user name.
    return colon === -1 ? `${scheme}${REDACTED}@` : `${scheme}${info.slice(0, colon)}:${REDACTED}@`;
  });
  return withoutUser.replace(QUERY_PARAM, (whole, lead: string, name: string) => (SECRET_PARAM.test(name) ? `${lead}${name}=${REDACTED}` : whole));
}

/**
 * The running config as it may be shown to an operator: every value that
 * came from `${VAR}` or `${file:...}` (a value inside one of them included),
 * every value the schema marks secret, the password and credential-like
 * parameters of every URL (`store.url`, an http connector's `url`), and the
 * values of credential-like headers are `[redacted]`.
 */
export function redactConfig(config: BridgeConfig, connectors: ConnectorSchemas): unknown {
  const filled = FILLED.get(config) ?? new Set<string>();
  const secrets = new Set<string>();
  const { connectors: configured, ...rest } = config;
  secretPaths(createConfigSchema(connectors), rest, '', secrets);
  for (const [name, options] of Object.entries(configured)) {
    const definition = Object.hasOwn(connectors, options.type) ? connectors[options.type] : undefined;
    secretPaths(definition?.schema, options, join('connectors', name), secrets);
  }

  function redact(value: unknown, path: string, key: string | number | undefined): unknown {
    if (filled.has(path) || secrets.has(path)) return REDACTED;
    if (typeof value === 'string') return redactUrl(value);
    if (Array.isArray(value)) return value.map((item, index) => redact(item, join(path, index), index));
    if (!isRecord(value)) return value;
    const headers = key === 'headers' && path.startsWith('connectors.');
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [name, headers && SECRET_HEADER.test(name) ? REDACTED : redact(item, join(path, name), name)]),
    );
  }
  return redact(config, '', undefined);
}
