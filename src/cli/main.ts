#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { startService } from '../service.js';
import { createStore, type DeliveryStatus } from '../store/index.js';
import { signAudianRequest } from '../verify/index.js';
import { CliError, UsageError } from './errors.js';
import { DEFAULT_SECRET_ENV, readInput, secretFromEnv } from './io.js';
import { send, SEND_HELP } from './send.js';

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'dead'];

/** Each command's usage line and its longer help (`audian-bridge help COMMAND`). */
const COMMANDS: Readonly<Record<string, { usage: string; summary: string; help?: string }>> = {
  serve: { usage: 'serve [--config FILE]', summary: 'run the receiver and dispatcher' },
  check: { usage: 'check [--config FILE]', summary: 'validate the config, print routes and connectors' },
  sign: {
    usage: 'sign [--secret-env NAME] [--file F]',
    summary: 'print X-Audian-* headers for a body (F or stdin)',
    help: `Signs a body the way Audian does and prints the two headers.
  --secret-env NAME  the variable holding the secret (default ${DEFAULT_SECRET_ENV})
  --secret S         the secret itself (visible in the process list; prefer --secret-env)
  --file F           the body; without it, stdin (which must not be a terminal)`,
  },
  send: { usage: 'send [TYPE|SCENARIO] [--file F] [--dialect D] [--url URL] ...', summary: 'send realistic signed webhooks (a simulator)', help: SEND_HELP },
  deliveries: {
    usage: 'deliveries [--config FILE] [--status pending|delivered|dead] [--connector NAME] [--limit N]',
    summary: 'list outbox rows, newest first',
  },
  retry: { usage: 'retry [--config FILE] ID...', summary: 'put dead deliveries back in the queue' },
  help: { usage: 'help [COMMAND]', summary: 'this text, or one command in detail' },
};

const USAGE = `usage: audian-bridge <command> [options]

commands:
${Object.values(COMMANDS)
  .map(({ usage, summary }) => `  ${usage}\n      ${summary}`)
  .join('\n')}

  --version          print the version
The config is --config, else $AUDIAN_BRIDGE_CONFIG, else ./config.yaml, else the embedded default.
`;

function helpFor(command: string | undefined): string {
  if (command === undefined) return USAGE;
  const entry = COMMANDS[command];
  if (!entry) throw new UsageError(`unknown command "${command}"`);
  return `usage: audian-bridge ${entry.usage}\n\n${entry.summary}\n${entry.help ? `\n${entry.help}\n` : ''}`;
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function load(flag: string | undefined): LoadedConfig {
  return loadConfig({ ...(flag ? { flag } : {}), env: process.env, cwd: process.cwd() });
}

async function serve(flag: string | undefined): Promise<void> {
  const { config, origin, warnings } = load(flag);
  const logger = pino({ level: config.log.level });
  logger.info({ config: origin }, 'configuration loaded');
  for (const warning of warnings) logger.warn(warning);
  const service = await startService(config, { logger }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const reason = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : 'no such address on this machine';
      throw new CliError(`cannot listen on ${config.server.host}:${config.server.port} (server.host, server.port in ${origin}): ${reason}`);
    }
    throw err;
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping gracefully');
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

function check(flag: string | undefined): void {
  const { config, origin, warnings } = load(flag);
  const lines = [`config: ${origin} (valid)`, ...warnings.map((warning) => `warning: ${warning}`), '', 'sources:'];
  for (const source of config.sources) {
    const scheme = source.verify.hmac ? `hmac (${source.verify.hmac.secrets.length} secret(s))` : source.verify.header ? `header ${source.verify.header.name}` : 'NONE (unsigned)';
    lines.push(`  ${source.name}  POST ${source.path}  verify: ${scheme}${source.dialects ? `  dialects: ${source.dialects.join(', ')}` : ''}`);
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

function sign(options: { secret?: string; secretEnv?: string; file?: string }): void {
  if (options.file === undefined && process.stdin.isTTY) {
    throw new UsageError('sign reads the body from --file F or from stdin, and stdin is a terminal');
  }
  const body = readInput(options.file);
  const secret = options.secret ?? secretFromEnv(options.secretEnv ?? DEFAULT_SECRET_ENV);
  for (const [name, value] of Object.entries(signAudianRequest(body, secret))) process.stdout.write(`${name}: ${value}\n`);
}

/** The CLI inspects an existing database; opening a missing one would create an empty file elsewhere than intended. */
function requireDatabase({ config, origin }: LoadedConfig): void {
  if (!existsSync(config.store.path)) {
    throw new CliError(`no database at ${config.store.path} (store.path in ${origin}): run the service with this config first, or pass the config it runs with (--config)`);
  }
}

function deliveries(flag: string | undefined, values: { status?: string; connector?: string; limit?: string }): void {
  const status = values.status as DeliveryStatus | undefined;
  if (status !== undefined && !DELIVERY_STATUSES.includes(status)) throw new UsageError(`--status must be one of ${DELIVERY_STATUSES.join(', ')}`);
  if (values.limit !== undefined && !/^\d+$/.test(values.limit)) throw new UsageError('--limit must be a whole number');
  const loaded = load(flag);
  requireDatabase(loaded);
  const { config } = loaded;
  const store = createStore(config.store.path);
  try {
    const rows = store.deliveries.list({
      ...(status ? { status } : {}),
      ...(values.connector ? { connector: values.connector } : {}),
      limit: values.limit ? Number(values.limit) : 50,
    });
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  } finally {
    store.close();
  }
}

function retry(flag: string | undefined, ids: string[]): void {
  if (ids.length === 0) throw new UsageError('retry needs delivery ids (see `audian-bridge deliveries --status dead`)');
  const bad = ids.find((id) => !/^\d+$/.test(id));
  if (bad !== undefined) throw new UsageError(`"${bad}" is not a delivery id`);
  const loaded = load(flag);
  requireDatabase(loaded);
  const { config } = loaded;
  const store = createStore(config.store.path);
  try {
    const moved = store.deliveries.requeueDead(ids.map(Number), Date.now());
    process.stdout.write(`${moved} of ${ids.length} deliveries queued again\n`);
  } finally {
    store.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      secret: { type: 'string' },
      'secret-env': { type: 'string' },
      file: { type: 'string' },
      status: { type: 'string' },
      connector: { type: 'string' },
      limit: { type: 'string' },
      url: { type: 'string' },
      source: { type: 'string' },
      dialect: { type: 'string' },
      header: { type: 'string', multiple: true },
      'keep-ids': { type: 'boolean' },
      count: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command === 'help' || values.help || command === undefined) {
    process.stdout.write(helpFor(command === 'help' ? rest[0] : command));
    return;
  }
  switch (command) {
    case 'serve':
      return serve(values.config);
    case 'check':
      return check(values.config);
    case 'sign':
      return sign({ ...(values.secret ? { secret: values.secret } : {}), ...(values['secret-env'] ? { secretEnv: values['secret-env'] } : {}), ...(values.file ? { file: values.file } : {}) });
    case 'send':
      return send(rest, values, () => load(values.config));
    case 'deliveries':
      return deliveries(values.config, values);
    case 'retry':
      return retry(values.config, rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    const issues = err.issues.map((issue) => `\n  - ${issue.path}: ${issue.message} [${issue.code}]`);
    process.stderr.write(`audian-bridge: invalid configuration:${issues.join('')}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`audian-bridge: ${(err as Error).message}\n(\`audian-bridge help\` lists the commands and their options)\n`);
    process.exit(64);
  }
  if (err instanceof CliError) {
    process.stderr.write(`audian-bridge: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`audian-bridge: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
