import { randomBytes, randomInt } from 'node:crypto';
import type { LoadedConfig, SourceConfig } from '../config/load.js';
import { DIALECT_IDS, type DialectId } from '../dialects/index.js';
import { signAudianRequest } from '../verify/index.js';
import { ConfigError } from '../errors.js';
import { CliError, UsageError } from './errors.js';
import { SEED_EXAMPLES } from './examples.js';
import { DEFAULT_SECRET_ENV, readInput, secretFromEnv } from './io.js';

/**
 * `audian-bridge send`: a simulator that signs and sends webhooks the way
 * Audian does, built from the provider's own examples (./examples.ts).
 */

export const SCENARIOS = ['missed-call', 'answered-call', 'transcribed-call', 'retry-storm'] as const;
type Scenario = (typeof SCENARIOS)[number];

export const SEND_HELP = `Sends webhooks to a running bridge, each signed like Audian's, and prints one
line per request: status, event type, id, and deliveries or "duplicate".

  send TYPE          one example of a canonical type, e.g. send call.completed
  send SCENARIO      a whole call: ${SCENARIOS.join(', ')}
                     (retry-storm: one event --count times, default 5)
  send --file F      a body of your own, its bytes sent as they are (the bridge's
                     answer says what it makes of them)

  --dialect D        ${DIALECT_IDS.join(' | ')} (default: the first that has the type)
  --url URL          the webhook URL (default: the --source of the loaded config on
                     127.0.0.1, after waiting for its /readyz)
  --source NAME      which configured source to send to (default: the first)
  --secret-env NAME  the variable holding the HMAC secret (default ${DEFAULT_SECRET_ENV})
  --header N:V       send this header (header-verified sources); repeatable
  --keep-ids         send the examples' own ids (replays are duplicates); by default
                     event and call ids are fresh on every run`;

type Json = Record<string, unknown>;

/** Where each dialect carries the event id and the call id (seed 001/003: audian.v2, 000: audian.hooks, 004: voice). */
const ID_PATHS: Readonly<Record<DialectId, { readonly event: readonly string[][]; readonly call: readonly string[][] }>> = {
  'audian.v2': { event: [['id']], call: [['data', 'call_id']] },
  'audian.hooks': { event: [['id']], call: [['data', 'call_id']] },
  // The voice agent sends no event id (the bridge derives one from the body) and numeric call ids.
  voice: { event: [], call: [['payload', 'call_id'], ['payload', 'call', 'id']] },
};

/** Where a call's direction is written, so a scenario can make the call inbound (only inbound calls can be missed). */
const DIRECTION_PATH: Readonly<Record<DialectId, readonly string[]>> = {
  'audian.v2': ['data', 'call_type'],
  'audian.hooks': ['data', 'call_direction'],
  voice: ['payload', 'direction'],
};

/**
 * Seed 000 documents one `audian.hooks` example (`channel_destroy`); the other
 * hooks of a call's life are that example under their hook names (the
 * dialect's TYPE_BY_HOOK) and hangup causes (its FAILURE_BY_CAUSE).
 */
const HOOKS_VARIANTS: Readonly<Record<string, (body: Json) => void>> = {
  'call.initiated': (body) => {
    body.hook = 'channel_create';
    const data = body.data as Json;
    delete data.duration_seconds;
    delete data.hangup_cause;
  },
  'call.answered': (body) => {
    body.hook = 'channel_answer';
    const data = body.data as Json;
    delete data.duration_seconds;
    delete data.hangup_cause;
  },
  'call.failed': (body) => {
    const data = body.data as Json;
    data.hangup_cause = 'NO_ANSWER';
    data.duration_seconds = 0;
  },
};

/** The example of `type` in `dialect`, as a fresh copy, or undefined when the dialect cannot express it. */
function example(dialect: DialectId, type: string): Json | undefined {
  const seed = SEED_EXAMPLES[dialect][type];
  if (seed) return structuredClone(seed.body) as Json;
  const variant = dialect === 'audian.hooks' ? HOOKS_VARIANTS[type] : undefined;
  if (!variant) return undefined;
  const body = structuredClone(SEED_EXAMPLES['audian.hooks']['call.completed']!.body) as Json;
  variant(body);
  return body;
}

export function typesOf(dialect: DialectId): string[] {
  return [...new Set([...Object.keys(SEED_EXAMPLES[dialect]), ...(dialect === 'audian.hooks' ? Object.keys(HOOKS_VARIANTS) : [])])].sort();
}

interface Step {
  readonly type: string;
  readonly body: Json;
}

/** One request as it goes out: the bytes signed are the bytes sent. */
interface Outgoing {
  readonly type: string;
  readonly raw: Buffer;
}

const outgoing = (steps: readonly Step[]): Outgoing[] => steps.map((step) => ({ type: step.type, raw: Buffer.from(JSON.stringify(step.body)) }));

/** The events of a scenario in `dialect`, or the reason it cannot be told in that dialect. */
function scenarioSteps(scenario: Scenario, dialect: DialectId, count: number): Step[] | string {
  const has = (type: string) => example(dialect, type) !== undefined;
  const step = (type: string, patch?: (body: Json) => void): Step => {
    const body = example(dialect, type)!;
    patch?.(body);
    return { type, body };
  };
  const inbound = (body: Json) => setAt(body, DIRECTION_PATH[dialect], 'inbound', true);
  const ringing = has('call.ringing') ? ['call.ringing'] : [];
  switch (scenario) {
    case 'answered-call':
      if (!has('call.initiated') || !has('call.answered') || !has('call.completed')) return 'it has no call.initiated, call.answered and call.completed';
      return [step('call.initiated'), ...ringing.map((type) => step(type)), step('call.answered'), step('call.completed')];
    case 'missed-call': {
      if (!has('call.initiated') || !(has('call.failed') || has('call.completed'))) return 'it has no call.initiated and call ending';
      // An inbound call that rings and ends unanswered: a failed "no answer" where the dialect has one, else a hangup without answer.
      const ending = has('call.failed')
        ? step('call.failed')
        : step('call.completed', (body) => {
            const payload = body.payload as Json | undefined;
            if (payload) delete payload.transcript; // a transcript would mean someone talked
          });
      return [step('call.initiated', inbound), ...ringing.map((type) => step(type, inbound)), ending];
    }
    case 'transcribed-call':
      if (!has('transcript.segment')) return 'it has no transcript.segment';
      return [
        step('call.initiated'),
        step('call.answered'),
        step('transcript.segment'),
        step('transcript.segment', (body) => {
          const payload = body.payload as Json;
          payload.type = 'ai';
          payload.transcript = 'I am fine, thank you. How can I help?';
        }),
        step('call.completed'),
      ];
    case 'retry-storm': {
      const first = step('call.initiated');
      return Array.from({ length: count }, () => first);
    }
  }
}

/** Sets the value at `path` where the parent object exists; only adds a key that is missing when `create`. */
function setAt(body: Json, path: readonly string[], value: unknown, create = false): boolean {
  let node: unknown = body;
  for (const key of path.slice(0, -1)) {
    node = (node as Json | undefined)?.[key];
    if (typeof node !== 'object' || node === null) return false;
  }
  const last = path[path.length - 1]!;
  if (!create && !Object.hasOwn(node as Json, last)) return false;
  (node as Json)[last] = value;
  return true;
}

/** New event ids for every step and one new call id for the call, so a second run is not all duplicates. */
function freshIds(steps: readonly Step[], dialect: DialectId): Step[] {
  const paths = ID_PATHS[dialect];
  // Voice call ids are numbers; stay well inside exact doubles.
  const callId = dialect === 'voice' ? randomInt(1, 2 ** 47) : `call_sim_${randomBytes(6).toString('hex')}`;
  const eventIds = new Map<Step, string>();
  return steps.map((step) => {
    // A retry storm repeats one step object: it keeps one id, as a provider's retries do.
    let eventId = eventIds.get(step);
    if (eventId === undefined) eventIds.set(step, (eventId = `evt_sim_${randomBytes(8).toString('hex')}`));
    const body = structuredClone(step.body);
    for (const path of paths.event) setAt(body, path, eventId);
    for (const path of paths.call) setAt(body, path, callId);
    return { type: step.type, body };
  });
}

export interface SendOptions {
  readonly file?: string;
  readonly dialect?: string;
  readonly url?: string;
  readonly source?: string;
  readonly 'secret-env'?: string;
  readonly header?: string[];
  readonly 'keep-ids'?: boolean;
  readonly count?: string;
}

const READY_TIMEOUT_MS = 15_000;

/** `loadConfig` is called only when no --url is given (the config says where and how to send). */
export async function send(args: readonly string[], options: SendOptions, loadConfig: () => LoadedConfig | Promise<LoadedConfig>): Promise<void> {
  const steps = plan(args, options);
  const target = await resolveTarget(options, loadConfig);
  await waitUntilReady(target.url);
  let failures = 0;
  for (const step of steps) {
    const { raw } = step;
    const headers = { 'content-type': 'application/json', ...target.headers(raw) };
    const response = await fetch(target.url, { method: 'POST', headers, body: raw }).catch((err: unknown) => {
      throw new CliError(`cannot reach ${target.url}: ${(err as Error).message}`);
    });
    const answer = (await response.json().catch(() => ({}))) as { id?: string; duplicate?: boolean; deliveries?: number; error?: { code?: string; message?: string } };
    if (!response.ok) failures++;
    process.stdout.write(`${describeAnswer(response.status, step.type, answer)}\n`);
  }
  if (failures > 0) throw new CliError(`${failures} of ${steps.length} requests were refused`);
}

function describeAnswer(status: number, type: string, answer: { id?: string; duplicate?: boolean; deliveries?: number; error?: { code?: string; message?: string } }): string {
  if (answer.error) return `${status} ${type} ${answer.error.code ?? 'ERROR'}: ${answer.error.message ?? ''}`;
  const outcome = answer.duplicate ? 'duplicate' : `deliveries ${answer.deliveries ?? 0}`;
  return `${status} ${type} ${answer.id ?? '-'} ${outcome}`;
}

/** What to send: the file's bytes, or the steps with fresh ids unless --keep-ids. Usage errors before anything is sent. */
function plan(args: readonly string[], options: SendOptions): Outgoing[] {
  const [what, ...extra] = args;
  if (extra.length > 0) throw new UsageError(`send takes one type or scenario, got ${args.join(' ')}`);
  if (options.file !== undefined) {
    if (what !== undefined) throw new UsageError('send takes a type, a scenario or --file, not both');
    // Not parsed and serialized again: that would round integers beyond 2^53, turn 1e400 into null
    // and overflow the stack on deep nesting, and the receiver is what should judge the bytes.
    return [{ type: options.file, raw: readInput(options.file) }];
  }
  if (what === undefined) throw new UsageError(`send needs a type (e.g. call.completed), a scenario (${SCENARIOS.join(', ')}) or --file`);
  const count = options.count === undefined ? 5 : Number(options.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError('--count must be a whole number from 1 to 1000');

  const dialects: readonly DialectId[] = options.dialect === undefined ? DIALECT_IDS : [checkDialect(options.dialect)];
  const reasons: string[] = [];
  for (const dialect of dialects) {
    const steps = (SCENARIOS as readonly string[]).includes(what)
      ? scenarioSteps(what as Scenario, dialect, count)
      : example(dialect, what)
        ? [{ type: what, body: example(dialect, what)! }]
        : `it has no example of ${what}`;
    if (typeof steps !== 'string') return outgoing(options['keep-ids'] ? steps : freshIds(steps, dialect));
    reasons.push(`${dialect} cannot express ${what} (${steps}); it can send: ${typesOf(dialect).join(', ')}`);
  }
  if (options.dialect === undefined && !(SCENARIOS as readonly string[]).includes(what)) {
    throw new UsageError(`no dialect has an example of "${what}"; types: ${[...new Set(DIALECT_IDS.flatMap(typesOf))].sort().join(', ')}; scenarios: ${SCENARIOS.join(', ')}`);
  }
  throw new UsageError(reasons.join('\n'));
}

function checkDialect(value: string): DialectId {
  if (!(DIALECT_IDS as readonly string[]).includes(value)) throw new UsageError(`--dialect must be one of ${DIALECT_IDS.join(', ')}`);
  return value as DialectId;
}

interface Target {
  readonly url: string;
  readonly headers: (raw: Buffer) => Record<string, string>;
}

/** The URL and how to authenticate: from --url and the flags, or from the loaded config's source. */
async function resolveTarget(options: SendOptions, loadConfig: () => LoadedConfig | Promise<LoadedConfig>): Promise<Target> {
  const extra = Object.fromEntries((options.header ?? []).map(parseHeader));
  const secretEnv = options['secret-env'] ?? DEFAULT_SECRET_ENV;
  if (options.url !== undefined) {
    checkWebhookUrl(options.url);
    // Without a config to say how the source verifies: sign when a secret is at hand.
    const secret = process.env[secretEnv];
    return { url: options.url, headers: (raw) => ({ ...(secret ? signAudianRequest(raw, secret) : {}), ...extra }) };
  }
  const { config, origin, unset } = await loadConfig();
  const source = pickSource(config.sources, options.source);
  // An HMAC source's secret comes from --secret-env, not from the file.
  const at = `sources[${config.sources.indexOf(source)}]`;
  refuseUnsetIn(unset, ['server.', `${at}.path`, `${at}.verify.header.`]);
  const host = ['0.0.0.0', '::', '[::]'].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  if (config.server.port === 0) throw new UsageError(`server.port is 0 in ${origin} (a free port picked at start): pass --url`);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}${source.path}`;
  if (source.verify.hmac) {
    const secret = secretFromEnv(secretEnv);
    return { url, headers: (raw) => ({ ...signAudianRequest(raw, secret), ...extra }) };
  }
  const header = source.verify.header;
  return { url, headers: () => ({ ...(header && !(header.name.toLowerCase() in lower(extra)) ? { [header.name]: header.value } : {}), ...extra }) };
}

/** The variables the file leaves unset where sending needs a value: where the bridge listens, and how the chosen source verifies. */
function refuseUnsetIn(unset: LoadedConfig['unset'], prefixes: readonly string[]): void {
  const needed = unset.filter(({ path }) => prefixes.some((prefix) => path.startsWith(prefix)));
  if (needed.length === 0) return;
  throw new ConfigError(
    needed.map(({ path, name }) => ({ path, code: 'CONFIG_ENV_MISSING', message: `environment variable ${name} is not set, and send needs it (write \${${name}:-default} for a default)` })),
    'CONFIG_ENV_MISSING',
  );
}

/** Refused before anything waits or is sent: fetch cannot reach a bridge at any other scheme (`data:`, `file:`, `javascript:`). */
function checkWebhookUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${url} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be an http:// or https:// URL of the bridge's webhook path, not ${parsed.protocol}`);
  }
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function pickSource(sources: readonly SourceConfig[], name: string | undefined): SourceConfig {
  const source = name === undefined ? sources[0] : sources.find((candidate) => candidate.name === name);
  if (!source) throw new UsageError(`no source named "${name}" (configured: ${sources.map((candidate) => candidate.name).join(', ')})`);
  return source;
}

function parseHeader(value: string): [string, string] {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header ${value}: write Name:value`);
  return [value.slice(0, colon).trim(), value.slice(colon + 1).trim()];
}

/** A refused connection means nothing listens: past this long (a bridge just started may still be loading), it is reported at once. */
const REFUSED_TIMEOUT_MS = 5_000;

/**
 * Waits for the bridge's /readyz (it may still be starting), bounded: 15 s
 * for a bridge that answers but is not ready, 5 s while the connection is
 * refused (no bridge listens there).
 */
async function waitUntilReady(url: string): Promise<void> {
  const readyz = new URL('/readyz', url).toString();
  const started = Date.now();
  let last = 'no answer';
  while (Date.now() < started + READY_TIMEOUT_MS) {
    try {
      const response = await fetch(readyz, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `${response.status}`;
    } catch (err) {
      const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'ECONNREFUSED' && Date.now() >= started + REFUSED_TIMEOUT_MS) {
        throw new CliError(`nothing listens at ${new URL(url).host} (connection refused): is \`audian-bridge serve\` running? (or pass --url)`);
      }
      last = code ?? (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new CliError(`no bridge ready at ${readyz} after ${READY_TIMEOUT_MS / 1000}s (last: ${last}): is \`audian-bridge serve\` running, and is it ready (its log says why not)?`);
}
