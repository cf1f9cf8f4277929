import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { defaultConfigYaml } from './default.js';
import { readRegularFiles } from './files.js';
import { interpolateEnv, secretFilesIn, type MissingVariable, type SecretFileReader, type UnreadableFile } from './interpolate.js';
import { toConfigIssues } from './issues.js';
import { hideSubstitutedText } from './provenance.js';
import { recordFilled } from './redact.js';
import { createConfigSchema, storeSectionSchema, type ConnectorSchemas, type BridgeConfig } from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadedConfig {
  readonly config: BridgeConfig;
  /** The file it came from, or `embedded default`. */
  readonly origin: string;
  /** The file read; absent for the embedded default. A reload reads this file again, never another. */
  readonly file?: string;
  /** What the operator should know before it serves (logged at start). */
  readonly warnings: readonly string[];
  /**
   * Loaded with `standIns`: the variables that were not set, at their key
   * paths, whose values are stand-ins (`unsetVariableStandIn`); the command
   * must not use those values. Empty otherwise.
   */
  readonly unset: readonly MissingVariable[];
}

/**
 * What an unset `${VAR}` holds when a command that does not use it loads the
 * config (`send`, `explain`): long enough for the length checks and valid in
 * a URL's host, so the rest of the file is still checked.
 */
export function unsetVariableStandIn(name: string): string {
  return `unset-${name.toLowerCase().replace(/_/g, '-')}-stand-in`;
}

/** How a config is read: `standIns` lets a command that uses no secret run without them (see `LoadedConfig.unset`). */
interface ReadOptions {
  readonly standIns?: boolean;
}

/** The `store` section alone, for the operator commands (`deliveries`, `replay`, ...). */
export interface LoadedStore {
  readonly store: BridgeConfig['store'];
  /** The connectors the file names; their options are not checked. */
  readonly connectors: readonly string[];
  readonly origin: string;
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
export async function loadConfig(options: { flag?: string; env: Env; cwd: string; connectors: ConnectorSchemas } & ReadOptions): Promise<LoadedConfig> {
  const file = resolveConfigPath(options.flag, options.env, options.cwd);
  return file === undefined ? loadEmbeddedDefault(options.env, options.connectors, options) : loadConfigFile(file, options.env, options.connectors, options);
}

/**
 * The config again, from where `loaded` came (a reload): the same file,
 * however it was found at start, or the embedded default for a process that
 * started on it. A file gone or unreadable now fails the load
 * (`CONFIG_NOT_FOUND`); it is never replaced by the default, which could
 * accept unsigned webhooks where the file verified them.
 */
export async function reloadConfig(loaded: Pick<LoadedConfig, 'file'>, options: { env: Env; connectors: ConnectorSchemas }): Promise<LoadedConfig> {
  return loaded.file === undefined ? loadEmbeddedDefault(options.env, options.connectors) : loadConfigFile(loaded.file, options.env, options.connectors);
}

/**
 * The `store` section of the config `loadConfig` would find, checked and
 * interpolated alone: the operator commands need the store only, so variables
 * and files named elsewhere (the admin token, webhook secrets) need not be set.
 */
export async function loadStoreConfig(options: { flag?: string; env: Env; cwd: string }): Promise<LoadedStore> {
  const file = resolveConfigPath(options.flag, options.env, options.cwd);
  const document = parseDocument(file === undefined ? defaultConfigYaml(options.env) : await readConfigText(file));
  const section = { store: isRecord(document) ? document.store : undefined };
  const schema = z.strictObject({ store: storeSectionSchema });
  const { store } = validateDocument(section, options.env, schema, await readSecretFiles(section));
  const connectors = isRecord(document) && isRecord(document.connectors) ? Object.keys(document.connectors) : [];
  return { store, connectors, origin: file ?? 'embedded default' };
}

async function loadConfigFile(file: string, env: Env, connectors: ConnectorSchemas, options: ReadOptions = {}): Promise<LoadedConfig> {
  const document = parseDocument(await readConfigText(file));
  const unset: MissingVariable[] = [];
  const config = validateDocument(document, env, createConfigSchema(connectors), await readSecretFiles(document), options.standIns ? unset : undefined);
  // A file's unsigned sources always say `verify: { none: true }`: that is the explicit choice REQUIRE_VERIFY asks for.
  return { config, origin: file, file, warnings: [], unset };
}

async function readConfigText(file: string): Promise<string> {
  const read = (await readRegularFiles([file])).get(file)!;
  if ('content' in read) return read.content;
  throw new ConfigError([{ path: '(file)', code: 'CONFIG_NOT_FOUND', message: `cannot read ${file}: ${read.reason}` }], 'CONFIG_NOT_FOUND');
}

/** Every `${file:...}` of `document`, read beforehand without blocking, for `interpolateEnv`. */
async function readSecretFiles(document: unknown): Promise<SecretFileReader> {
  const reads = await readRegularFiles(secretFilesIn(document));
  return (file) => reads.get(file) ?? { reason: 'it was not read' };
}

/**
 * The embedded default without a secret accepts unsigned webhooks, so it
 * listens on 127.0.0.1 only (see default.ts), and where unsigned sources must
 * be asked for explicitly (the Docker image) it does not start at all.
 */
async function loadEmbeddedDefault(env: Env, connectors: ConnectorSchemas, options: ReadOptions = {}): Promise<LoadedConfig> {
  const unset: MissingVariable[] = [];
  const config = validateDocument(parseDocument(defaultConfigYaml(env)), env, createConfigSchema(connectors), undefined, options.standIns ? unset : undefined);
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
  return { config, origin: 'embedded default', warnings, unset };
}

/**
 * Parses, interpolates and validates a whole config document against the
 * connector types in `connectors`; throws `ConfigError` listing every problem
 * with its key path. `${file:...}` files are read synchronously here (the
 * loaders above read them beforehand, without blocking).
 */
export function parseConfig(text: string, env: Env, connectors: ConnectorSchemas): BridgeConfig {
  return validateDocument(parseDocument(text), env, createConfigSchema(connectors));
}

function parseDocument(text: string): unknown {
  try {
    return YAML.parse(text, { uniqueKeys: true, prettyErrors: true }) ?? {};
  } catch (err) {
    throw new ConfigError([{ path: '(root)', code: 'CONFIG_SYNTAX', message: `not valid YAML: ${(err as Error).message}` }]);
  }
}

/**
 * With `standIns`, an unset variable is filled with a stand-in and listed
 * there instead of failing the load, unless the value it stands in fails
 * its own check (a port, a number): then it is reported as unset after all.
 */
function validateDocument<S extends z.ZodType>(document: unknown, env: Env, schema: S, readFile?: SecretFileReader, standIns?: MissingVariable[]): z.output<S> {
  const { value, missing, unreadable, substituted } = interpolateEnv(document, env, readFile, standIns ? unsetVariableStandIn : undefined);
  const parsed = schema.safeParse(value, { reportInput: true });
  const failing = standIns && !parsed.success ? new Set(toConfigIssues(parsed.error.issues, schema).map((issue) => issue.path)) : undefined;
  const reported = standIns ? missing.filter((problem) => failing?.has(problem.path)) : missing;
  standIns?.push(...missing.filter((problem) => !reported.includes(problem)));
  const unset = missingVariableIssues(reported);
  const unread = unreadable.map(({ path, file, reason }): ConfigIssue => ({ path, code: 'CONFIG_BAD_VALUE', message: `\${file:${file}}: ${reason}` }));
  // A value emptied by an unset variable or an unreadable file fails its own check too; that is the one problem to report.
  const emptied = new Set([...missing, ...unreadable].map((problem: MissingVariable | UnreadableFile) => problem.path));
  const invalid = parsed.success ? [] : hideSubstitutedText(toConfigIssues(parsed.error.issues, schema).filter((issue) => !emptied.has(issue.path)), substituted);
  const issues = [...unset, ...unread, ...invalid];
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  recordFilled(parsed.data, document);
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type { BridgeConfig, RouteConfig, SourceConfig } from './schema.js';
