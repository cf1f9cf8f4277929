import { pino } from 'pino';
import type { BridgeConfig, LoadedConfig } from '../config/load.js';
import { duration } from '../config/values.js';
import { ConfigError } from '../errors.js';
import type { ConnectorRegistry } from '../sdk/index.js';
import { UsageError } from './errors.js';

/** `check`'s own options; `--json` is shared with `explain` (src/cli/explain.ts). */
export const CHECK_OPTIONS = {
  connect: { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The bound on each probe, over the connector's own timeout (Kafka's default connection and request timeouts add up to 13 s). */
export const DEFAULT_PROBE_BOUND_MS = 15_000;

export const CHECK_HELP = {
  usage: 'check [--config FILE] [--connect [--timeout 15s] [--json]]',
  summary: 'validate the config, print routes and connectors; --connect: reach each connector',
  help: `Validates the config (exit 2 and every problem if it is bad) and prints its sources,
connectors, routes and subscriptions.
  --connect      validate, then reach each connector with its health probe (printed
                 instead of the summary), all at once, without sending anything: Kafka metadata (a leader for every partition of its
                 topics), Slack auth.test, the http connector's health request, a
                 writable directory for file and transcript. One line per connector, ok
                 or the reason; exit 1 if any fails
  --timeout T    the most each probe may take (default 15s), over the connector's own
  --json         with --connect: one JSON document instead of text`,
};

/** One connector's probe, as `check --connect` reports it. */
export interface ConnectionCheck {
  readonly connector: string;
  readonly type: string;
  readonly ok: boolean;
  readonly detail?: string;
  readonly reason?: string;
  /** How long the probe took. */
  readonly ms: number;
}

const silent = pino({ level: 'silent' });

/** Creates the connector (never started), probes it within `boundMs`, and closes what it opened. */
async function checkOne(name: string, options: BridgeConfig['connectors'][string], registry: ConnectorRegistry, boundMs: number): Promise<ConnectionCheck> {
  const { dispatch: _dispatcherOnly, ...connectorOptions } = options;
  const started = Date.now();
  const done = (result: { ok: true; detail?: string } | { ok: false; reason: string }): ConnectionCheck => ({
    connector: name,
    type: options.type,
    ...result,
    ms: Date.now() - started,
  });
  const connector = registry[options.type]!.create(name, connectorOptions, { logger: silent, fetch, now: Date.now });
  const bound = AbortSignal.timeout(boundMs);
  try {
    const result = await connector.probe(bound);
    return done(bound.aborted && !result.ok ? { ok: false, reason: `${result.reason} within ${boundMs} ms (--timeout)` } : result);
  } catch (err) {
    return done({ ok: false, reason: `the probe failed: ${(err as Error).message}` });
  } finally {
    await connector.stop().catch(() => undefined);
  }
}

/** Every configured connector's probe, all at once, in the config's order. */
export function checkConnections(config: BridgeConfig, registry: ConnectorRegistry, boundMs: number): Promise<ConnectionCheck[]> {
  return Promise.all(Object.entries(config.connectors).map(([name, options]) => checkOne(name, options, registry, boundMs)));
}

/** One line per connector: `ok` and what was found, or `FAIL` and why. */
export function formatChecks(origin: string, warnings: readonly string[], checks: readonly ConnectionCheck[]): string {
  const width = Math.max(0, ...checks.map((check) => `${check.connector} (${check.type})`.length));
  const lines = checks.map((check) => {
    const who = `${check.connector} (${check.type})`.padEnd(width);
    return `  ${check.ok ? 'ok  ' : 'FAIL'}  ${who}  ${check.ok ? (check.detail ?? '') : check.reason}  [${check.ms} ms]`;
  });
  const failed = checks.filter((check) => !check.ok).length;
  const summary = checks.length === 0 ? 'no connector is configured' : failed === 0 ? `all ${checks.length} connector(s) reachable` : `${failed} of ${checks.length} connector(s) failed`;
  const warned = warnings.map((warning) => `warning: ${warning}\n`).join('');
  return `config: ${origin} (valid)\n${warned}\nconnectors:\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}\n${summary}\n`;
}

function parseBound(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PROBE_BOUND_MS;
  const parsed = duration().safeParse(text);
  if (!parsed.success || parsed.data <= 0) throw new UsageError(`--timeout "${text}" is not a duration above zero (write e.g. 15s or 500ms)`);
  return parsed.data;
}

/** A variable the loader left unset (filled with a stand-in), at a key path. */
interface UnsetVariable {
  readonly path: string;
  readonly name: string;
}

/**
 * The connectors' options are what the probes use: a variable unset there
 * fails the load as `check` would (exit 2); one unset elsewhere (the admin
 * token, a webhook secret) is not needed to reach the connectors.
 */
function refuseUnsetInConnectors(unset: readonly UnsetVariable[]): void {
  const needed = unset.filter((variable) => variable.path.startsWith('connectors.'));
  if (needed.length === 0) return;
  throw new ConfigError(
    needed.map(({ path, name }) => ({ path, code: 'CONFIG_ENV_MISSING', message: `environment variable ${name} is not set, and check --connect needs it to reach the connector` })),
  );
}

/**
 * `audian-bridge check --connect`: the config validated as `check` does (a
 * bad one exits 2), then every connector probed; exit 1 if any probe fails.
 * `load` may leave variables the connectors do not use unset (`unset`).
 */
export async function runCheckConnect(
  values: { config?: string; timeout?: string; json?: boolean },
  load: (flag: string | undefined) => Promise<LoadedConfig & { readonly unset?: readonly UnsetVariable[] }>,
): Promise<void> {
  const boundMs = parseBound(values.timeout);
  const { config, origin, warnings, unset } = await load(values.config);
  refuseUnsetInConnectors(unset ?? []);
  const { CONNECTORS } = await import('../../connectors/index.js');
  const checks = await checkConnections(config, CONNECTORS, boundMs);
  const ok = checks.every((check) => check.ok);
  process.stdout.write(values.json ? `${JSON.stringify({ config: origin, ok, connectors: checks }, null, 2)}\n` : formatChecks(origin, warnings, checks));
  if (!ok) process.exitCode = 1;
}
