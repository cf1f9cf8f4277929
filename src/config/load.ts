import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { defaultConfigYaml } from './default.js';
import { interpolateEnv, type MissingVariable } from './interpolate.js';
import { toConfigIssues } from './issues.js';
import { recordFilled } from './redact.js';
import { createConfigSchema, type ConnectorSchemas, type BridgeConfig } from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadedConfig {
  readonly config: BridgeConfig;
  /** The file it came from, or `embedded default`. */
  readonly origin: string;
  /** What the operator should know before it serves (logged at start). */
  readonly warnings: readonly string[];
}

/** Set (`1` or `true`) in the Docker image: refuse to serve unsigned webhooks unless a config file asks for it. */
export const REQUIRE_VERIFY_ENV = 'AUDIAN_BRIDGE_REQUIRE_VERIFY';

/** `--config`, then AUDIAN_BRIDGE_CONFIG, then ./config.yaml, else the embedded default. */
export function resolveConfigPath(flag: string | undefined, env: Env, cwd: string): string | undefined {
  if (flag) return resolve(cwd, flag);
  if (env.AUDIAN_BRIDGE_CONFIG) return resolve(cwd, env.AUDIAN_BRIDGE_CONFIG);
  const local = resolve(cwd, 'config.yaml');
  return existsSync(local) ? local : undefined;
}

/** `connectors` checks the `connectors` section (connectors/index.ts's registry). */
export function loadConfig(options: { flag?: string; env: Env; cwd: string; connectors: ConnectorSchemas }): LoadedConfig {
  const path = resolveConfigPath(options.flag, options.env, options.cwd);
  if (path === undefined) return loadEmbeddedDefault(options.env, options.connectors);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '(file)', code: 'CONFIG_NOT_FOUND', message: `cannot read ${path}: ${(err as Error).message}` }], 'CONFIG_NOT_FOUND');
  }
  // A file's unsigned sources always say `verify: { none: true }`: that is the explicit choice REQUIRE_VERIFY asks for.
  return { config: parseConfig(text, options.env, options.connectors), origin: path, warnings: [] };
}

/**
 * The embedded default without a secret accepts unsigned webhooks, so it
 * listens on 127.0.0.1 only (see default.ts), and where unsigned sources must
 * be asked for explicitly (the Docker image) it does not start at all.
 */
function loadEmbeddedDefault(env: Env, connectors: ConnectorSchemas): LoadedConfig {
  const config = parseConfig(defaultConfigYaml(env), env, connectors);
  const unsigned = config.sources.some((source) => source.verify.none);
  if (unsigned && /^(1|true)$/i.test(env[REQUIRE_VERIFY_ENV] ?? '')) {
    throw new ConfigError([
      {
        path: 'sources[0].verify',
        code: 'CONFIG_UNVERIFIED_SOURCE',
        message: `${REQUIRE_VERIFY_ENV} is set and AUDIAN_WEBHOOK_SECRET is not: set AUDIAN_WEBHOOK_SECRET to verify signatures, or use a config file whose unsigned sources say verify: { none: true }`,
      },
    ]);
  }
  const warnings = unsigned
    ? [`AUDIAN_WEBHOOK_SECRET is not set: the embedded default accepts UNSIGNED webhooks, so it listens on ${config.server.host} only; set AUDIAN_WEBHOOK_SECRET to verify signatures and listen on every interface`]
    : [];
  return { config, origin: 'embedded default', warnings };
}

/**
 * Parses, interpolates and validates a whole config document against the
 * connector types in `connectors`; throws `ConfigError` listing every problem
 * with its key path.
 */
export function parseConfig(text: string, env: Env, connectors: ConnectorSchemas): BridgeConfig {
  let document: unknown;
  try {
    document = YAML.parse(text, { uniqueKeys: true, prettyErrors: true }) ?? {};
  } catch (err) {
    throw new ConfigError([{ path: '(root)', code: 'CONFIG_SYNTAX', message: `not valid YAML: ${(err as Error).message}` }]);
  }
  const { value, missing, unreadable, filled } = interpolateEnv(document, env);
  const schema = createConfigSchema(connectors);
  const parsed = schema.safeParse(value, { reportInput: true });
  const unset = missingVariableIssues(missing);
  const unread = unreadable.map(({ path, file, reason }): ConfigIssue => ({ path, code: 'CONFIG_BAD_VALUE', message: `\${file:${file}}: ${reason}` }));
  // A value emptied by an unset variable or an unreadable file fails its own check too; that is the one problem to report.
  const emptied = new Set([...missing, ...unreadable].map((problem) => problem.path));
  const issues = [...unset, ...unread, ...(parsed.success ? [] : toConfigIssues(parsed.error.issues, schema).filter((issue) => !emptied.has(issue.path)))];
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  recordFilled(parsed.data, filled);
  return parsed.data;
}

/** One issue per unset variable, at its first use, naming the other places it is used. */
function missingVariableIssues(missing: readonly MissingVariable[]): ConfigIssue[] {
  const byName = new Map<string, string[]>();
  for (const { name, path } of missing) byName.set(name, [...(byName.get(name) ?? []), path]);
  return [...byName].map(([name, paths]) => ({
    path: paths[0]!,
    code: 'CONFIG_ENV_MISSING',
    message: `environment variable ${name} is not set (write \${${name}:-default} for a default)${paths.length > 1 ? `; also used at ${paths.slice(1).join(', ')}` : ''}`,
  }));
}

export type { BridgeConfig, RouteConfig, SourceConfig } from './schema.js';
