import { createInterface } from 'node:readline/promises';
import ms from 'ms';
import type { BridgeConfig, LoadedConfig } from '../config/load.js';
import type { SubscriptionConfig } from '../config/subscriptions.js';
import { BridgeError, ConfigError } from '../errors.js';
import { applyPlan, ApplyError, DEFAULT_OVERLAP_MS } from '../provider/apply.js';
import { createProviderClients, type ProviderApi, type ProviderClients, type RemoteWebhook } from '../provider/index.js';
import { parseTime } from '../ops/operations.js';
import type { EventLookup } from '../provider/activity.js';
import { changesOf, desiredWebhooks, ownerOf, planChanges, planSubscriptions, type Plan } from '../provider/plan.js';
import { reconcileSubscription, type ReconcileReport } from '../provider/reconcile.js';
import { CAUSE_HINTS, ownWebhook, runRoundTrip, type RoundTripResult } from '../provider/round-trip.js';
import { readSecretsFile, resolveSecretFile, storeNewSecret, unexpiredSecrets } from '../provider/secrets-file.js';
import { CliError, UsageError } from './errors.js';
import { bridgeSide, type BridgeSide } from './subscriptions-bridge.js';
import { describeStep, formatPlan, planJson, stepJson } from './subscriptions-format.js';
import { formatReconcile, formatStatus, type StatusRow } from './subscriptions-report.js';

/**
 * `audian-bridge subscriptions plan|apply|test|rotate|reconcile|status`: the
 * provider's side as code (docs/provider-setup.md). Exit codes: 0 done (or in
 * step), 3 `plan` would change something, 2 invalid configuration, 1 failure,
 * 64 usage.
 */

export interface SubscriptionsValues {
  readonly config?: string | undefined;
  readonly yes?: boolean | undefined;
  readonly prune?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly 'show-secret'?: boolean | undefined;
  readonly timeout?: string | undefined;
  readonly overlap?: string | undefined;
  readonly event?: string | undefined;
  readonly since?: string | undefined;
  readonly admin?: string | undefined;
  readonly 'token-env'?: string | undefined;
}

/** What every subcommand works with. */
export interface SubscriptionsContext {
  readonly config: BridgeConfig;
  readonly clients: ProviderClients;
  readonly values: SubscriptionsValues;
  readonly print: (text: string) => void;
  readonly now: () => number;
}

/** The exit code of a finished subcommand (failures throw). */
type Outcome = number;

export async function runSubscriptions(args: readonly string[], values: SubscriptionsValues, load: (flag: string | undefined) => Promise<LoadedConfig>): Promise<void> {
  const [command, ...rest] = args;
  if (command === undefined) throw new UsageError('subscriptions needs a command: plan, apply, test, rotate, reconcile or status');
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown subscriptions command "${command}" (plan, apply, test, rotate, reconcile, status)`);
  const { config } = await load(values.config);
  if (!config.provider) {
    throw new ConfigError([{ path: 'provider', code: 'CONFIG_MISSING_KEY', message: 'the subscriptions commands need provider: { url, token } (see docs/provider-setup.md)' }]);
  }
  const context: SubscriptionsContext = {
    config,
    clients: createProviderClients(config.provider),
    values,
    print: (text) => process.stdout.write(text),
    now: Date.now,
  };
  try {
    process.exitCode = await run(context, rest);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError || !(err instanceof BridgeError)) throw err;
    report(context, command, err);
    process.exitCode = 1;
  }
}

/** A failure on stderr (and as JSON on stdout with --json): its code and its message, which never holds the token. */
function report(context: SubscriptionsContext, command: string, err: BridgeError): void {
  if (err instanceof ApplyError) {
    for (const step of err.done) process.stderr.write(`done: ${describeStep(step, context.values['show-secret'] === true)}\n`);
  }
  process.stderr.write(`audian-bridge subscriptions ${command}: ${err.code}: ${err.message}\n`);
  if (context.values.json) {
    const done = err instanceof ApplyError ? { done: err.done.map((step) => stepJson(step, context.values['show-secret'] === true)) } : {};
    context.print(`${JSON.stringify({ error: { code: err.code, message: err.message }, ...done }, null, 2)}\n`);
  }
}

const COMMANDS: Readonly<Record<string, (context: SubscriptionsContext, args: readonly string[]) => Promise<Outcome>>> = {
  plan: (context, args) => planCommand(context, args),
  apply: (context, args) => applyCommand(context, args),
  test: (context, args) => testCommand(context, args),
  rotate: (context, args) => rotateCommand(context, args),
  reconcile: (context, args) => reconcileCommand(context, args),
  status: (context, args) => statusCommand(context, args),
};

/** Every webhook the account has, on the webhooks API and (with an account id) the accounts API. */
export async function listRemote(clients: ProviderClients): Promise<RemoteWebhook[]> {
  const [webhooks, accounts] = await Promise.all([clients.webhooks.list(), clients.accounts ? clients.accounts.list() : Promise.resolve([])]);
  return [...webhooks, ...accounts];
}

export function secretFileOf(config: BridgeConfig, name: string): string | undefined {
  const subscription = config.subscriptions.find((item) => item.name === name);
  return subscription?.secret_file === undefined ? undefined : resolveSecretFile(subscription.secret_file);
}

/** The webhooks-API subscriptions with an unexpired secret on file. */
async function withSecrets(config: BridgeConfig, now: number): Promise<Set<string>> {
  const found = new Set<string>();
  for (const subscription of config.subscriptions) {
    const file = secretFileOf(config, subscription.name);
    if (file && unexpiredSecrets(await readSecretsFile(file), now).length > 0) found.add(subscription.name);
  }
  return found;
}

async function makePlan(context: SubscriptionsContext, prune: boolean): Promise<Plan> {
  const [remote, secrets] = await Promise.all([listRemote(context.clients), withSecrets(context.config, context.now())]);
  return planSubscriptions(desiredWebhooks(context.config.subscriptions), remote, { prune, hasSecret: (name) => secrets.has(name) });
}

function noArguments(command: string, args: readonly string[]): void {
  if (args.length > 0) throw new UsageError(`subscriptions ${command} takes no names (it covers every subscription)`);
}

async function planCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  noArguments('plan', args);
  const plan = await makePlan(context, context.values.prune === true);
  const changes = planChanges(plan);
  context.print(context.values.json ? `${JSON.stringify(planJson(plan, changes), null, 2)}\n` : formatPlan(plan));
  return changes ? 3 : 0;
}

async function applyCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  noArguments('apply', args);
  const { values } = context;
  const plan = await makePlan(context, values.prune === true);
  const showSecret = values['show-secret'] === true;
  if (!planChanges(plan)) {
    context.print(values.json ? `${JSON.stringify({ ...planJson(plan, false), applied: [] }, null, 2)}\n` : `${formatPlan(plan)}nothing to change\n`);
    return 0;
  }
  if (!values.yes) await confirm(formatPlan(plan));
  const applied = await applyPlan(plan, {
    apis: { webhooks: context.clients.webhooks, ...(context.clients.accounts ? { accounts: context.clients.accounts } : {}) },
    signing: context.clients.webhooks,
    secretFileOf: (name) => secretFileOf(context.config, name),
    now: context.now,
  });
  if (values.json) {
    context.print(`${JSON.stringify({ ...planJson(plan, true), applied: applied.map((step) => stepJson(step, showSecret)) }, null, 2)}\n`);
  } else {
    context.print(`${applied.map((step) => describeStep(step, showSecret)).join('\n')}\napplied: ${applied.length} change(s)\n`);
  }
  return 0;
}

/** Asks on the terminal; without one, `--yes` is the only way to apply. */
async function confirm(planText: string): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError('apply changes the provider\'s webhooks: pass --yes to apply without being asked (run `subscriptions plan` to see what would change)');
  process.stdout.write(planText);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question('apply these changes? type yes to go on: ');
  prompt.close();
  if (answer.trim().toLowerCase() !== 'yes') throw new CliError('nothing applied');
}

export function subscriptionNamed(config: BridgeConfig, name: string | undefined, command: string): SubscriptionConfig {
  if (name === undefined) throw new UsageError(`subscriptions ${command} takes a subscription name (configured: ${config.subscriptions.map((item) => item.name).join(', ') || 'none'})`);
  const found = config.subscriptions.find((item) => item.name === name);
  if (!found) throw new UsageError(`no subscription named "${name}" (configured: ${config.subscriptions.map((item) => item.name).join(', ') || 'none'})`);
  return found;
}

/** `--timeout 30s`, `--overlap 24h`: a duration with its unit. */
export function durationFlag(value: string | undefined, flag: string, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const parsed = /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(value.trim()) ? ms(value.trim() as ms.StringValue) : undefined;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) throw new UsageError(`${flag} takes a duration with its unit, e.g. 30s, 5m, 24h (not "${value}")`);
  return parsed;
}

async function testCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  const { config, values } = context;
  if (args.length > 1) throw new UsageError('subscriptions test takes one subscription name');
  const subscription = subscriptionNamed(config, args[0], 'test');
  const timeoutMs = durationFlag(values.timeout, '--timeout', 30_000);
  const side = await bridgeSide(config, values.admin, values['token-env']);
  let result: RoundTripResult;
  try {
    const api = context.clients.api(subscription.api) as ProviderApi;
    result = await runRoundTrip({
      subscription,
      api,
      ...(subscription.api === 'webhooks' ? { signing: context.clients.webhooks } : {}),
      lookup: side.lookup,
      ...(values.event ? { event: values.event } : {}),
      timeoutMs,
      now: context.now,
    });
  } finally {
    await side.lookup.close();
  }
  if (values.json) context.print(`${JSON.stringify({ subscription: subscription.name, source: subscription.source, ...result }, null, 2)}\n`);
  if (result.arrived) {
    if (!values.json) context.print(`test event ${result.eventId ?? '(unnamed by the provider)'} of ${subscription.name} stored by source ${subscription.source}: ${result.roundTripMs} ms after the provider was asked\n`);
    return 0;
  }
  const logged = result.providerStatus === undefined ? '' : ` (the provider logged ${result.providerStatus === null ? 'no answer' : `HTTP ${result.providerStatus}`})`;
  const refused = result.rejections && Object.keys(result.rejections).length > 0 ? `; the bridge refused: ${Object.entries(result.rejections).map(([code, n]) => `${code} x${n}`).join(', ')}` : '';
  process.stderr.write(
    `audian-bridge subscriptions test: the test event ${result.eventId ?? ''} of ${subscription.name} did not arrive at source ${subscription.source}${logged}${refused}\n` +
      `likely cause (${result.cause}): ${CAUSE_HINTS[result.cause]}\n`,
  );
  return 1;
}

async function rotateCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  const { config, values, clients } = context;
  if (args.length > 1) throw new UsageError('subscriptions rotate takes one subscription name');
  const subscription = subscriptionNamed(config, args[0], 'rotate');
  if (subscription.api !== 'webhooks') {
    throw new BridgeError('SUBSCRIPTION_UNSUPPORTED', `subscription "${subscription.name}" uses the accounts API, which has no rotate-secret: its secret comes from the provider's dashboard into the source's verify.hmac.secrets`);
  }
  const overlapMs = durationFlag(values.overlap, '--overlap', DEFAULT_OVERLAP_MS);
  const file = secretFileOf(config, subscription.name) as string;
  const webhook = ownWebhook(await clients.webhooks.list(), subscription);
  const result = await storeNewSecret(file, async () => ({ secret: await clients.webhooks.rotateSecret(webhook.id) }), { now: context.now, overlapMs });
  const older = result.entries.slice(1);
  const until = older.length > 0 ? new Date(Math.max(...older.map((entry) => entry.expiresAt ?? 0))).toISOString() : undefined;
  const showSecret = values['show-secret'] === true;
  if (values.json) {
    context.print(`${JSON.stringify({ subscription: subscription.name, webhookId: webhook.id, secretFile: file, olderAccepted: older.length, acceptedUntil: until ?? null, ...(showSecret ? { secret: result.secret } : {}) }, null, 2)}\n`);
  } else {
    context.print(
      `rotated ${subscription.name} (${webhook.id}): the new signing secret is first in ${file}${showSecret ? `: ${result.secret}` : ''}; a running bridge reads it within 2 s\n` +
        (until ? `${older.length} older secret(s) accepted until ${until}, then refused with no further command\n` : 'no older secret was on file\n'),
    );
  }
  return 0;
}

function sinceFlag(value: string | undefined, now: number): number {
  try {
    return parseTime(value ?? '24h', '--since', now);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function reconcileCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  const { config, values } = context;
  if (args.length > 1) throw new UsageError('subscriptions reconcile takes one subscription name');
  const subscription = subscriptionNamed(config, args[0], 'reconcile');
  if (subscription.api !== 'webhooks') {
    throw new BridgeError('SUBSCRIPTION_UNSUPPORTED', `subscription "${subscription.name}" uses the accounts API, which has no delivery log: reconcile needs api: webhooks`);
  }
  const since = sinceFlag(values.since, context.now());
  const side = await bridgeSide(config, values.admin, values['token-env']);
  let report: ReconcileReport;
  try {
    report = side.reconcile
      ? await side.reconcile(subscription.name, new Date(since).toISOString())
      : await reconcileSubscription({ subscription, api: context.clients.webhooks, lookup: side.lookup, since, now: context.now });
  } finally {
    await side.lookup.close();
  }
  context.print(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReconcile(report));
  return report.gap ? 3 : 0;
}

async function statusCommand(context: SubscriptionsContext, args: readonly string[]): Promise<Outcome> {
  noArguments('status', args);
  const { config, values } = context;
  const [remote, side] = await Promise.all([listRemote(context.clients), bridgeSide(config, values.admin, values['token-env']).catch(noStoreYet)]);
  const now = context.now();
  let rows: StatusRow[];
  try {
    rows = await Promise.all(config.subscriptions.map((subscription) => statusOf(subscription, remote, side.lookup, now)));
  } finally {
    await side.lookup.close();
  }
  context.print(values.json ? `${JSON.stringify({ subscriptions: rows }, null, 2)}\n` : formatStatus(rows, now));
  return 0;
}

async function statusOf(subscription: SubscriptionConfig, remote: readonly RemoteWebhook[], lookup: EventLookup, now: number): Promise<StatusRow> {
  const wanted = new Map(desiredWebhooks([subscription]).map((want) => [want.spec.events[0], want.spec]));
  const webhooks = remote
    .filter((webhook) => webhook.api === subscription.api && ownerOf(webhook) === subscription.name)
    .map((webhook) => {
      const spec = subscription.api === 'accounts' ? wanted.get(webhook.events[0]) : [...wanted.values()][0];
      return { id: webhook.id, enabled: webhook.enabled, inStep: spec !== undefined && changesOf(webhook, spec).length === 0, ...(subscription.api === 'accounts' ? { hook: webhook.events[0] as string } : {}) };
    });
  let secrets: StatusRow['secrets'];
  if (subscription.secret_file !== undefined) {
    const entries = (await readSecretsFile(resolveSecretFile(subscription.secret_file))).filter((entry) => entry.expiresAt === undefined || entry.expiresAt > now);
    const expiries = entries.flatMap((entry) => (entry.expiresAt === undefined ? [] : [entry.expiresAt]));
    secrets = { count: entries.length, nextExpiry: expiries.length > 0 ? new Date(Math.min(...expiries)).toISOString() : null };
  }
  const last = await lookup.lastReceivedAt(subscription.source);
  return {
    name: subscription.name,
    api: subscription.api,
    source: subscription.source,
    url: subscription.url,
    webhooks,
    ...(secrets ? { secrets } : {}),
    lastReceivedAt: last === undefined ? null : new Date(last).toISOString(),
    expectWithinMs: subscription.expect_within ?? null,
    silent: subscription.expect_within !== undefined && (last === undefined || now - last > subscription.expect_within),
  };
}

/** Before the bridge has ever run there is no store: status still shows the provider's side, with no last event. */
function noStoreYet(err: unknown): BridgeSide {
  if (!(err instanceof BridgeError) || err.code !== 'STORE_NOT_FOUND') throw err;
  process.stderr.write(`note: ${err.message}; the last events are not known\n`);
  return { lookup: { stored: async () => false, storedIds: async () => new Set(), lastReceivedAt: async () => undefined, close: async () => undefined } };
}
