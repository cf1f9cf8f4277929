#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { BridgeError, ConfigError } from '../errors.js';
import { createProcessLogger, exitOnSignals } from './process-exit.js';
import { signAudianRequest } from '../verify/index.js';
import { OPS_COMMANDS, OPS_OPTIONS, OPS_USAGE, runOps } from './ops.js';

const USAGE = `usage: audian-bridge <command> [options]

commands:
  serve  [--config FILE]             run the receiver and dispatcher
  check  [--config FILE]             validate the config, print routes and connectors
  sign   --secret S [--file F]       print X-Audian-* headers for a body (stdin or F)
${OPS_USAGE}
The config is --config, else $AUDIAN_BRIDGE_CONFIG, else ./config.yaml, else the embedded default.
`;

/**
 * Validating a config needs every connector's schema, so the registry, and
 * with it kafkajs and @slack/web-api, is loaded here, by the commands that
 * read a config, and not by `sign` or `--help`.
 */
async function load(flag: string | undefined): Promise<LoadedConfig> {
  const { CONNECTORS } = await import('../../connectors/index.js');
  return loadConfig({ ...(flag ? { flag } : {}), env: process.env, cwd: process.cwd(), connectors: CONNECTORS });
}

async function serve(flag: string | undefined): Promise<void> {
  const { config, origin } = await load(flag);
  const { startService } = await import('../service.js');
  const { logger, exit } = createProcessLogger(config.log.level);
  logger.info({ config: origin }, 'configuration loaded');
  const service = await startService(config, { logger });
  exitOnSignals(service.stop, { logger, exit, timeoutMs: config.server.shutdown_timeout });
}

async function check(flag: string | undefined): Promise<void> {
  const { config, origin } = await load(flag);
  const lines = [`config: ${origin} (valid)`, '', 'sources:'];
  for (const source of config.sources) {
    const scheme = source.verify.hmac ? `hmac (${source.verify.hmac.secrets.length} secret(s))` : source.verify.header ? `header ${source.verify.header.name}` : 'NONE (unsigned)';
    lines.push(`  ${source.name}  POST ${source.path ?? `/webhooks/${source.name}`}  verify: ${scheme}${source.dialects ? `  dialects: ${source.dialects.join(', ')}` : ''}`);
  }
  lines.push('', 'connectors:');
  for (const [name, options] of Object.entries(config.connectors)) lines.push(`  ${name}  (${options.type})`);
  lines.push('', 'routes:');
  for (const route of config.routes) {
    const match = Object.entries(route.match).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('|') : String(value)}`);
    lines.push(`  ${route.name}: ${match.join(' ') || 'every event'}${route.when ? ` when ${route.when}` : ''} -> ${route.to.join(', ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function sign(secret: string | undefined, file: string | undefined): void {
  if (!secret) throw new UsageError('sign needs --secret');
  const body = readFileSync(file ?? 0);
  for (const [name, value] of Object.entries(signAudianRequest(body, secret))) process.stdout.write(`${name}: ${value}\n`);
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      secret: { type: 'string' },
      file: { type: 'string' },
      status: { type: 'string' },
      connector: { type: 'string' },
      limit: { type: 'string' },
      ...OPS_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'serve':
      return serve(values.config);
    case 'check':
      return check(values.config);
    case 'sign':
      return sign(values.secret, values.file);
    default:
      if (OPS_COMMANDS.has(command)) return runOps(command, rest, values, load);
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`audian-bridge: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof BridgeError && err.code === 'STORE_LOCKED') {
    process.stderr.write(`audian-bridge: ${err.code}: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`audian-bridge: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(64);
  }
  process.stderr.write(`audian-bridge: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
