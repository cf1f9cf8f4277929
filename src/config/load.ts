import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { defaultConfigYaml } from './default.js';
import { interpolateEnv } from './interpolate.js';
import { createConfigSchema, type ConnectorSchemas, type BridgeConfig } from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadedConfig {
  readonly config: BridgeConfig;
  /** The file it came from, or `embedded default`. */
  readonly origin: string;
}

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
  if (path === undefined) {
    return { config: parseConfig(defaultConfigYaml(options.env), options.env, options.connectors), origin: 'embedded default' };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as Error).message}`], 'CONFIG_NOT_FOUND');
  }
  return { config: parseConfig(text, options.env, options.connectors), origin: path };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || '(root)';
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`);
    }
    return [`${formatPath(issue.path)}: ${issue.message}`];
  });
}

/**
 * Parses, interpolates and validates a whole config document against the
 * connector types in `connectors`; throws `ConfigError` naming each bad key path.
 */
export function parseConfig(text: string, env: Env, connectors: ConnectorSchemas): BridgeConfig {
  let document: unknown;
  try {
    document = YAML.parse(text, { uniqueKeys: true, prettyErrors: true }) ?? {};
  } catch (err) {
    throw new ConfigError([`not valid YAML: ${(err as Error).message}`]);
  }
  const { value, problems } = interpolateEnv(document, env);
  const parsed = createConfigSchema(connectors).safeParse(value);
  const issues = [...problems, ...(parsed.success ? [] : formatIssues(parsed.error.issues))];
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  return parsed.data;
}

export type { BridgeConfig, RouteConfig, SourceConfig } from './schema.js';
