import { hostname, userInfo } from 'node:os';
import { ConfigError, BridgeError, ERRORS, type ErrorCode } from '../errors.js';
import type { LoadedStore } from '../config/load.js';
import { storeOptionsOf } from '../config/store.js';
import type { Operations, Query } from '../ops/operations.js';
import type { AuditActor } from '../store/index.js';
import { callsTable, callView, eventsTable } from './ops-views.js';

/**
 * The operator's commands: `deliveries` (list, `show ID`, `purge`), `replay`
 * (`retry` is its old name), `events list` and `events show ID`, `calls list`
 * and `calls show ID`, `pause NAME`, `resume NAME`.
 * With `--admin URL` (or AUDIAN_BRIDGE_ADMIN_URL) they go through the admin
 * API, so they work from outside the container; else they run on the store
 * named by the config: its PostgreSQL database (`store.url`), or its SQLite
 * file, which must exist already.
 */

/** The flags these commands take, for the one `parseArgs` in main.ts. */
export const OPS_OPTIONS = {
  route: { type: 'string' },
  event: { type: 'string' },
  call: { type: 'string' },
  since: { type: 'string' },
  before: { type: 'string' },
  cursor: { type: 'string' },
  until: { type: 'string' },
  type: { type: 'string' },
  phone: { type: 'string' },
  admin: { type: 'string' },
  'token-env': { type: 'string' },
} as const;

const WHERE = `Runs on the store of --config FILE (the PostgreSQL database at store.url, else the SQLite
file at store.path, which must exist already), or
through the admin API with --admin URL or $AUDIAN_BRIDGE_ADMIN_URL (the token from
$AUDIAN_BRIDGE_ADMIN_TOKEN, or the variable --token-env NAME names).`;
const TIME = 'TIME is ISO 8601 (2026-03-01T12:00:00Z) or a duration ago (30d, 2h).';

/** Each command's usage line, summary and longer help, for `audian-bridge help [COMMAND]`. */
export const OPS_HELP: Readonly<Record<string, { usage: string; summary: string; help: string }>> = {
  deliveries: {
    usage: 'deliveries [show ID | purge] [--status S] [--connector NAME] [--route NAME] [--since TIME] ...',
    summary: 'list deliveries, newest first (JSON lines); show one with every attempt; purge dead ones',
    help: `  deliveries [--status pending|delivered|skipped|dead] [--connector NAME] [--route NAME] [--event ID]
             [--call ID] [--since TIME] [--limit N] [--cursor C]
                     list deliveries, newest first (default 50); the count and the next --cursor on stderr
  deliveries show ID one delivery with every attempt
  deliveries purge --status dead --before 30d [--connector NAME]
                     delete dead deliveries last changed before then (local database only)

${WHERE}
${TIME}`,
  },
  replay: {
    usage: 'replay ID... | replay --status dead [--connector NAME] [--route NAME] [--since TIME]',
    summary: 'queue dead deliveries again; a delivered (or skipped) one named by id is sent again',
    help: `${WHERE}
${TIME}`,
  },
  retry: { usage: 'retry ID...', summary: 'the same as replay (its old name)', help: WHERE },
  events: {
    usage: 'events list [--type T] [--source S] [--call ID] [--since TIME] [--until TIME] ... | events show ID',
    summary: 'list stored events, newest first; show one with its call and its deliveries',
    help: `  events list [--type T] [--source NAME] [--call ID] [--since TIME] [--until TIME]
              [--limit N] [--cursor C] [--json]
                     stored events, newest accepted first (default 50): a table on a terminal,
                     JSON lines with --json or when piped; the count and the next --cursor on stderr
  events show ID     one event (JSON) with its call and its deliveries

${WHERE}
${TIME}`,
  },
  calls: {
    usage: 'calls list --phone NUMBER | calls list --call ID | calls show ID',
    summary: "find calls by a caller's or callee's number; show a call whole: its events, lifecycle and deliveries",
    help: `  calls list --phone NUMBER [--limit N] [--json]
                     calls whose caller or callee has these digits (+1 415-555-0100 and
                     14155550100 are the same number), most recently changed first
  calls list --call ID
                     the call with this id, in every source that has it
  calls show ID [--json]
                     every event of the call in the order accepted (type, dialect, when), what the
                     lifecycle decided (missed, summary revision, checks still due) and every delivery
Tables on a terminal; JSON with --json or when piped (calls list: JSON lines; calls show: one document).

${WHERE}`,
  },
  pause: { usage: 'pause NAME', summary: 'stop deliveries to a connector until resumed (nothing goes dead meanwhile)', help: WHERE },
  resume: { usage: 'resume NAME', summary: 'restart deliveries to a paused connector, their age counted from now', help: WHERE },
};

export const OPS_COMMANDS: ReadonlySet<string> = new Set(Object.keys(OPS_HELP));

export interface OpsValues {
  readonly config?: string | undefined;
  readonly status?: string | undefined;
  readonly connector?: string | undefined;
  readonly limit?: string | undefined;
  readonly route?: string | undefined;
  readonly event?: string | undefined;
  readonly call?: string | undefined;
  readonly since?: string | undefined;
  readonly before?: string | undefined;
  readonly cursor?: string | undefined;
  readonly until?: string | undefined;
  readonly type?: string | undefined;
  readonly phone?: string | undefined;
  readonly source?: string | undefined;
  readonly json?: boolean | undefined;
  readonly admin?: string | undefined;
  readonly 'token-env'?: string | undefined;
}

/** What the commands need, whether on the local file or over the admin API. */
export type Backend = Pick<Operations, 'listDeliveries' | 'showDelivery' | 'replay' | 'event' | 'listEvents' | 'calls' | 'call' | 'pause' | 'resume'> & {
  purge: Operations['purge'];
  close(): Promise<void>;
};

const STATUSES = ['pending', 'delivered', 'skipped', 'dead'];

function usage(message: string): never {
  throw new BridgeError('INVALID_REQUEST', message);
}

/** The admin API as a backend: the same JSON answers, errors with the code the API gave. */
function remoteBackend(base: string, token: string | undefined): Backend {
  const root = base.replace(/\/+$/, '');
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<never> {
    let response: Response;
    try {
      response = await fetch(`${root}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new Error(`cannot reach the admin API at ${root}: ${(err as Error).message}`);
    }
    const text = await response.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new Error(`the admin API at ${root} answered ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = (answer as { error?: { code?: string; message?: string } }).error;
      // Its code, so the command fails as it would on the local database.
      if (error?.code && Object.hasOwn(ERRORS, error.code)) throw new BridgeError(error.code as ErrorCode, `${error.message ?? ''} (the admin API answered ${response.status})`);
      throw new Error(`the admin API answered ${response.status} ${error?.code ?? ''}: ${error?.message ?? text}`);
    }
    return answer as never;
  }
  const query = (values: Query) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(values)) if (value !== undefined) params.set(key, value);
    const text = params.toString();
    return text ? `?${text}` : '';
  };
  return {
    listDeliveries: (values) => call('GET', `/admin/deliveries${query(values)}`),
    showDelivery: (id) => call('GET', `/admin/deliveries/${encodeURIComponent(id)}`),
    replay: (body) => call('POST', '/admin/deliveries/replay', body),
    event: (id) => call('GET', `/admin/events/${encodeURIComponent(id)}`),
    listEvents: (values) => call('GET', `/admin/events${query(values)}`),
    calls: (values) => call('GET', `/admin/calls${query(values)}`),
    call: (id) => call('GET', `/admin/calls/${encodeURIComponent(id)}`),
    pause: (name) => call('POST', `/admin/connectors/${encodeURIComponent(name)}/pause`),
    resume: (name) => call('POST', `/admin/connectors/${encodeURIComponent(name)}/resume`),
    purge: () => {
      throw new Error('purge runs on the local database only (it deletes data; run it where the file is, without --admin)');
    },
    close: async () => undefined,
  };
}

/** The store named by the config: its PostgreSQL database, or its SQLite file, opened only if it exists. */
async function localBackend(loaded: LoadedStore): Promise<Backend> {
  const [{ openStore }, { createOperations }] = await Promise.all([import('../store/index.js'), import('../ops/operations.js')]);
  const store = await openStore({ ...storeOptionsOf(loaded.store), create: false });
  const operations = createOperations({ store, connectors: new Set(loaded.connectors) });
  // On the store itself the audit names who ran the command, and where: through the admin API, the API records it.
  const actor = cliActor();
  return {
    ...operations,
    replay: (body) => operations.replay(body, actor),
    pause: (name) => operations.pause(name, actor),
    resume: (name) => operations.resume(name, actor),
    close: () => store.close(),
  };
}

/** `user@host` of the process running the command. */
function cliActor(): AuditActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  return { via: 'cli', who: `${user}@${hostname()}` };
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const REASONS: Record<string, string> = {
  pending: 'still pending: it is queued already and goes out when due',
  not_found: 'no such delivery (dead ones stay until purged; delivered ones go with their event after dedupe_ttl)',
};

/** The admin API at --admin (or $AUDIAN_BRIDGE_ADMIN_URL), else the store the config names. */
export async function openBackend(values: Pick<OpsValues, 'admin' | 'token-env' | 'config'>, load: (flag: string | undefined) => Promise<LoadedStore>): Promise<Backend> {
  const adminUrl = values.admin ?? process.env.AUDIAN_BRIDGE_ADMIN_URL;
  const tokenVariable = values['token-env'] ?? 'AUDIAN_BRIDGE_ADMIN_TOKEN';
  return adminUrl ? remoteBackend(adminUrl, process.env[tokenVariable]) : localBackend(await load(values.config));
}

/** Runs one operator command; exits 64 on bad input, 1 on anything else it cannot do. */
export async function runOps(command: string, args: readonly string[], values: OpsValues, load: (flag: string | undefined) => Promise<LoadedStore>): Promise<void> {
  try {
    if (values.status !== undefined && !STATUSES.includes(values.status)) usage(`--status must be one of ${STATUSES.join(', ')}`);
    const backend = await openBackend(values, load);
    try {
      await runWith(backend, command, args, values);
    } finally {
      await backend.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const known = err instanceof BridgeError ? err : undefined;
    process.stderr.write(`audian-bridge ${command}: ${known ? `${known.code}: ` : ''}${(err as Error).message}\n`);
    process.exitCode = known?.status === 400 ? 64 : 1;
  }
}

async function runWith(backend: Backend, command: string, args: readonly string[], values: OpsValues): Promise<void> {
  const [sub, ...rest] = args;
  if (command === 'deliveries' && sub === 'show') {
    if (rest.length !== 1) usage('deliveries show takes one delivery id');
    const detail = await backend.showDelivery(rest[0] as string);
    print(detail);
    if (detail.waiting) process.stderr.write(`${detail.waiting}\n`);
    return;
  }
  if (command === 'deliveries' && sub === 'purge') {
    const answer = await backend.purge({ ...(values.status ? { status: values.status } : {}), ...(values.before ? { before: values.before } : {}), ...(values.connector ? { connector: values.connector } : {}) });
    process.stdout.write(`purged ${answer.purged} dead deliveries last changed before ${answer.before}${values.connector ? ` (connector ${values.connector})` : ''}\n`);
    return;
  }
  if (command === 'deliveries') {
    if (sub !== undefined) usage(`unknown deliveries subcommand "${sub}" (show, purge, or none to list)`);
    const answer = await backend.listDeliveries({
      status: values.status, connector: values.connector, route: values.route, event: values.event,
      call: values.call, since: values.since, limit: values.limit ?? '50', cursor: values.cursor,
    });
    for (const row of answer.deliveries) process.stdout.write(`${JSON.stringify(row)}\n`);
    process.stderr.write(`${answer.deliveries.length} deliveries${answer.cursor ? `; more with --cursor ${answer.cursor}` : ''}\n`);
    return;
  }
  if (command === 'replay' || command === 'retry') return replay(backend, args, values);
  if (command === 'events') return events(backend, sub, rest, values);
  if (command === 'calls') return calls(backend, sub, rest, values);
  // pause, resume
  if (args.length !== 1) usage(`${command} takes one connector name`);
  const name = args[0] as string;
  if (command === 'pause') {
    const answer = await backend.pause(name);
    process.stdout.write(
      answer.changed
        ? `paused ${name}: nothing is sent to it until \`resume ${name}\`, and nothing goes dead meanwhile (a running bridge sees this within poll_interval)\n`
        : `${name} was paused already; nothing changed\n`,
    );
  } else {
    const answer = await backend.resume(name);
    process.stdout.write(answer.changed ? `resumed ${name}: its waiting deliveries are due now, their age counted from now\n` : `${name} was not paused; nothing changed\n`);
  }
}

/** A table for a person at a terminal; JSON for `--json` and for a pipe. */
const asTable = (values: OpsValues) => values.json !== true && process.stdout.isTTY === true;

function jsonLines(rows: readonly unknown[]): void {
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
}

async function events(backend: Backend, sub: string | undefined, rest: readonly string[], values: OpsValues): Promise<void> {
  if (sub === 'show') {
    if (rest.length !== 1) usage('events show takes one event id');
    return print(await backend.event(rest[0] as string));
  }
  if (sub !== 'list' || rest.length > 0) usage('events takes list [filters] or show ID');
  const answer = await backend.listEvents({
    // A source's name from the config (`main`) is the event's source `audian/main`.
    type: values.type, source: values.source && !values.source.includes('/') ? `audian/${values.source}` : values.source, call: values.call, since: values.since, until: values.until, limit: values.limit ?? '50', cursor: values.cursor,
  });
  if (asTable(values)) process.stdout.write(eventsTable(answer.events));
  else jsonLines(answer.events);
  process.stderr.write(`${answer.events.length} events${answer.cursor ? `; more with --cursor ${answer.cursor}` : ''}\n`);
}

async function calls(backend: Backend, sub: string | undefined, rest: readonly string[], values: OpsValues): Promise<void> {
  if (sub === 'show') {
    if (rest.length !== 1) usage('calls show takes one call id');
    const answer = await backend.call(rest[0] as string);
    process.stdout.write(asTable(values) ? callView(answer) : `${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  if (sub !== 'list' || rest.length > 0) usage('calls takes list --phone NUMBER, list --call ID, or show ID');
  if ((values.phone === undefined) === (values.call === undefined)) usage('calls list takes --phone NUMBER (compared as digits) or --call ID');
  const answer = await backend.calls({ phone: values.phone, call: values.call, limit: values.limit });
  if (asTable(values)) process.stdout.write(callsTable(answer.calls));
  else jsonLines(answer.calls);
}

async function replay(backend: Backend, ids: readonly string[], values: OpsValues): Promise<void> {
  const filtered = values.status !== undefined || values.connector !== undefined || values.route !== undefined || values.since !== undefined;
  if (ids.length > 0 && filtered) usage('give delivery ids or filters (--status dead, --connector, --route, --since), not both');
  if (ids.length === 0 && !filtered) usage('replay needs delivery ids, or filters such as --status dead --connector crm (see `audian-bridge deliveries --status dead`)');
  const bad = ids.find((id) => !/^[1-9]\d*$/.test(id));
  if (bad !== undefined) usage(`"${bad}" is not a delivery id`);
  if (ids.length === 0 && values.status === undefined) {
    throw new BridgeError('REPLAY_STATUS_REQUIRED', 'a replay filter must name its status: add --status dead (a filter replays dead deliveries only)');
  }
  // The ids as typed: the operations read them, and refuse one beyond 2^53 instead of rounding it to another.
  const body = ids.length > 0
    ? { ids }
    : { status: values.status, connector: values.connector, route: values.route, since: values.since };
  const answer = await backend.replay(body);
  const lines = [ids.length > 0 ? `${answer.queued} of ${ids.length} deliveries queued again` : `${answer.queued} dead deliveries queued again`];
  if (answer.ids.length > 0) lines.push(`  queued: ${answer.ids.join(', ')}`);
  for (const skipped of answer.skipped) lines.push(`  skipped ${skipped.id}: ${REASONS[skipped.reason] ?? skipped.reason}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  // An id named and not queued is a failure a script must see; a filter that matches nothing is not.
  if (ids.length > 0 && answer.skipped.length > 0) {
    process.stderr.write(`audian-bridge replay: ${answer.skipped.length} of the ${ids.length} deliveries named were not queued\n`);
    process.exitCode = 1;
  }
}
