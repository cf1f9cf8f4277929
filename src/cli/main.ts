#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LoadedConfig } from '../config/load.js';
import { holdHangups } from './hangups.js';

// Listening for SIGHUP comes before everything else is loaded (src/cli/hangups.ts).
const hangups = holdHangups();
const [
  { loadConfig, loadStoreConfig, reloadConfig },
  { describeStore },
  { CHECK_HELP, CHECK_OPTIONS, runCheckConnect },
  { EXPLAIN_HELP, EXPLAIN_OPTIONS, runExplain },
  { BridgeError, ConfigError },
  { signAudianRequest },
  { CliError, UsageError },
  { DEFAULT_SECRET_ENV, readInput, secretFromEnv },
  { OPS_COMMANDS, OPS_HELP, OPS_OPTIONS, runOps },
  { createProcessLogger, exitOnSignals },
  { send, SEND_HELP },
  { SUBSCRIPTIONS_HELP, SUBSCRIPTIONS_OPTIONS },
  { TAIL_HELP, TAIL_OPTIONS },
] = await Promise.all([
  import('../config/load.js'),
  import('../config/store.js'),
  import('./check-connect.js'),
  import('./explain.js'),
  import('../errors.js'),
  import('../verify/index.js'),
  import('./errors.js'),
  import('./io.js'),
  import('./ops.js'),
  import('./process-exit.js'),
  import('./send.js'),
  import('./subscriptions-help.js'),
  import('./tail-help.js'),
]);

/** Each command's usage line and its longer help (`audian-bridge help COMMAND`). */
const COMMANDS: Readonly<Record<string, { usage: string; summary: string; help?: string }>> = {
  serve: { usage: 'serve [--config FILE]', summary: 'run the receiver and dispatcher' },
  check: CHECK_HELP,
  sign: {
    usage: 'sign [--secret-env NAME] [--file F]',
    summary: 'print X-Audian-* headers for a body (F or stdin)',
    help: `Signs a body the way Audian does and prints the two headers.
  --secret-env NAME  the variable holding the secret (default ${DEFAULT_SECRET_ENV})
  --secret S         the secret itself (visible in the process list; prefer --secret-env)
  --file F           the body; without it, stdin (which must not be a terminal)`,
  },
  explain: EXPLAIN_HELP,
  send: { usage: 'send [TYPE|SCENARIO] [--file F] [--dialect D] [--url URL] ...', summary: 'send realistic signed webhooks (a simulator)', help: SEND_HELP },
  ...OPS_HELP,
  tail: TAIL_HELP,
  subscriptions: SUBSCRIPTIONS_HELP,
  help: { usage: 'help [COMMAND]', summary: 'this text, or one command in detail' },
};

const USAGE = `usage: audian-bridge <command> [options]

commands:
${Object.values(COMMANDS)
  .map(({ usage, summary }) => `  ${usage}\n      ${summary}`)
  .join('\n')}

  --version          print the version
The config is --config, else $AUDIAN_BRIDGE_CONFIG, else ./config.yaml, else the embedded default.
The operator commands (${[...OPS_COMMANDS].join(', ')}) run on its database,
or through the admin API with --admin URL; \`audian-bridge help COMMAND\` says more.
`;

function helpFor(command: string | undefined): string {
  if (command === undefined) return USAGE;
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) throw new UsageError(`unknown command "${command}"`);
  return `usage: audian-bridge ${entry.usage}\n\n${entry.summary}\n${entry.help ? `\n${entry.help}\n` : ''}`;
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * Validating a config needs every connector's schema, so the registry, and
 * with it kafkajs and @slack/web-api, is loaded here, by the commands that
 * read a config, and not by `sign` or `help`.
 */
async function load(flag: string | undefined, options: { standIns?: boolean } = {}): Promise<LoadedConfig> {
  const { CONNECTORS } = await import('../../connectors/index.js');
  return loadConfig({ ...(flag ? { flag } : {}), env: process.env, cwd: process.cwd(), connectors: CONNECTORS, ...options });
}

/** `send`, `explain` and `check --connect` use no secret of the file but the ones they sign, send or connect with: the others may be unset (LoadedConfig.unset). */
const loadWithoutSecrets = (flag: string | undefined) => load(flag, { standIns: true });

/** The operator commands need only the store: the rest of the file is neither checked nor interpolated. */
function loadStore(flag: string | undefined) {
  return loadStoreConfig({ ...(flag ? { flag } : {}), env: process.env, cwd: process.cwd() });
}

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such address on this machine',
};

async function serve(flag: string | undefined): Promise<void> {
  const loaded = await load(flag);
  const { config, origin, warnings } = loaded;
  const [{ startService }, { CONNECTORS }] = await Promise.all([import('../service.js'), import('../../connectors/index.js')]);
  const { logger, exit } = createProcessLogger(config.log.level);
  logger.info({ config: origin }, 'configuration loaded');
  for (const warning of warnings) logger.warn(warning);
  // A reload reads the file found at start (or the embedded default again), whatever is found now.
  const again = async () => (await reloadConfig(loaded, { env: process.env, connectors: CONNECTORS })).config;
  const service = await startService(config, { logger, loadConfig: again }).catch((err: unknown) => {
    const { code, port } = err as NodeJS.ErrnoException & { port?: number };
    const reason = code === undefined ? undefined : LISTEN_ERRORS[code];
    if (reason === undefined) throw err;
    // The admin listener fails the same way; the error's port says which of the two it was.
    const admin = config.admin.token && port === config.admin.port && port !== config.server.port;
    const [section, { host, port: configured }] = admin ? ['admin', config.admin] : ['server', config.server];
    throw new CliError(`cannot listen on ${host}:${configured} (${section}.host, ${section}.port in ${origin}): ${reason}`);
  });
  exitOnSignals(service.stop, { logger, exit, timeoutMs: config.server.shutdown_timeout });
  const held = hangups.handOver(() => void service.reload('SIGHUP').catch((err: unknown) => logger.error({ err }, 'config reload failed')));
  if (held > 0) logger.info({ signals: held }, 'SIGHUP received while starting; reloading once now');
}

async function check(flag: string | undefined): Promise<void> {
  const { config, origin, warnings } = await load(flag);
  const lines = [`config: ${origin} (valid)`, ...warnings.map((warning) => `warning: ${warning}`), '', `store: ${describeStore(config.store)}`, '', 'sources:'];
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
  // The provider's side, never its token (docs/provider-setup.md).
  if (config.provider) lines.push('', `subscriptions (provider ${config.provider.url}):`);
  for (const item of config.subscriptions) {
    const what = item.api === 'accounts' ? `hooks: ${(item.hooks ?? []).join(', ')}` : `events: ${(item.events ?? []).join(', ')}  secret_file: ${item.secret_file}`;
    lines.push(`  ${item.name}  ${item.api} API -> source ${item.source}  ${item.url}  ${what}`);
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
      ...OPS_OPTIONS,
      ...EXPLAIN_OPTIONS,
      ...CHECK_OPTIONS,
      ...SUBSCRIPTIONS_OPTIONS,
      ...TAIL_OPTIONS,
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  const [command, ...rest] = positionals;
  if (command !== 'serve') hangups.release();
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  if (command === 'help' || values.help || command === undefined) {
    process.stdout.write(helpFor(command === 'help' ? rest[0] : command));
    return;
  }
  switch (command) {
    case 'explain':
      return runExplain(values, loadWithoutSecrets, loadStore);
    case 'serve':
      return serve(values.config);
    case 'check':
      if (values.connect) return runCheckConnect(values, loadWithoutSecrets);
      if (values.timeout !== undefined) throw new UsageError('--timeout goes with check --connect');
      return check(values.config);
    case 'sign':
      return sign({ ...(values.secret ? { secret: values.secret } : {}), ...(values['secret-env'] ? { secretEnv: values['secret-env'] } : {}), ...(values.file ? { file: values.file } : {}) });
    case 'send':
      return send(rest, values, () => loadWithoutSecrets(values.config));
    case 'tail': {
      const { runTail } = await import('./tail.js');
      return runTail(values, loadStore);
    }
    case 'subscriptions': {
      const { runSubscriptions } = await import('./subscriptions.js');
      return runSubscriptions(rest, values, load);
    }
    default:
      if (OPS_COMMANDS.has(command)) return runOps(command, rest, values, loadStore);
      throw new UsageError(`unknown command "${command}"`);
  }
}

// A reader that stops early (`| head`) closes the pipe: that ends the output, not in an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    const issues = err.issues.map((issue) => `\n  - ${issue.path}: ${issue.message} [${issue.code}]`);
    process.stderr.write(`audian-bridge: invalid configuration:${issues.join('')}\n`);
    process.exit(2);
  }
  if (err instanceof BridgeError && (err.code === 'STORE_LOCKED' || err.code === 'STORE_PERMISSION_DENIED')) {
    process.stderr.write(`audian-bridge: ${err.code}: ${err.message}\n`);
    process.exit(1);
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
