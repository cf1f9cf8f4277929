import type { LoadedStore } from '../config/load.js';
import { storeOptionsOf } from '../config/store.js';
import type { CanonicalEvent } from '../dialects/index.js';
import { BridgeError, ERRORS, type ErrorCode } from '../errors.js';
import { compileActivityFilter, type ActivityFilter } from '../ops/activity-filter.js';
import type { StoredActivity, StoredAttempt } from '../store/index.js';
import { CliError } from './errors.js';
import { formatLine, type TailActivity } from './tail-format.js';

export interface TailValues {
  readonly config?: string | undefined;
  readonly source?: string | undefined;
  readonly type?: string | undefined;
  readonly connector?: string | undefined;
  readonly call?: string | undefined;
  readonly json?: boolean | undefined;
  readonly admin?: string | undefined;
  readonly 'token-env'?: string | undefined;
}

/** How often the store is read for new rows. */
const POLL_MS = 500;
/** Rows of each kind read at most per look. */
const BATCH = 500;

type Print = (activity: TailActivity) => void;

/** `audian-bridge tail`: until Ctrl-C (exit 0), or the admin API's stream ends (exit 1). */
export async function runTail(values: TailValues, load: (flag: string | undefined) => Promise<LoadedStore>): Promise<void> {
  const filter: ActivityFilter = {
    ...(values.source ? { source: values.source } : {}),
    ...(values.type ? { type: values.type } : {}),
    ...(values.connector ? { connector: values.connector } : {}),
    ...(values.call ? { call: values.call } : {}),
  };
  const json = values.json === true || !process.stdout.isTTY;
  const colour = !json && !process.env.NO_COLOR;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A reader that went away (`| head`) ends the tail as Ctrl-C does.
  process.stdout.on('error', onSignal);
  const print: Print = (activity) => {
    if (!stop.signal.aborted) process.stdout.write(`${json ? JSON.stringify(activity) : formatLine(activity, colour)}\n`);
  };
  const adminUrl = values.admin ?? process.env.AUDIAN_BRIDGE_ADMIN_URL;
  try {
    if (adminUrl) await tailAdmin(adminUrl, process.env[values['token-env'] ?? 'AUDIAN_BRIDGE_ADMIN_TOKEN'], filter, print, stop.signal);
    else await tailStore(await load(values.config), filter, print, stop.signal);
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    // As the other operator commands say it (src/cli/ops.ts): the code, then what to do.
    process.stderr.write(`audian-bridge tail: ${err.code}: ${err.message}\n`);
    process.exitCode = err.status === 400 ? 64 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The admin API's Server-Sent Events, printed as they come. */
async function tailAdmin(base: string, token: string | undefined, filter: ActivityFilter, print: Print, signal: AbortSignal): Promise<void> {
  const root = base.replace(/\/+$/, '');
  const query = new URLSearchParams(filter as Record<string, string>).toString();
  let response: Response;
  try {
    response = await fetch(`${root}/admin/tail${query ? `?${query}` : ''}`, { headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal });
  } catch (err) {
    if (signal.aborted) return;
    throw new CliError(`cannot reach the admin API at ${root}: ${(err as Error).message} (is \`audian-bridge serve\` running, with admin.token set?)`);
  }
  if (!response.ok || !response.body) throw await refusal(response, root);
  ready(`the bridge at ${root}`);
  try {
    await readEvents(response.body, print);
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
  if (!signal.aborted) throw new CliError(`the bridge at ${root} ended the stream (it is stopping, or restarted): run tail again`);
}

async function refusal(response: Response, root: string): Promise<Error> {
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    // not the admin API's JSON
  }
  const hint = response.status === 401 ? ': export the admin token in $AUDIAN_BRIDGE_ADMIN_TOKEN (or name its variable with --token-env)' : '';
  if (error?.code && Object.hasOwn(ERRORS, error.code)) return new BridgeError(error.code as ErrorCode, `${error.message ?? ''} (the admin API answered ${response.status})${hint}`);
  return new CliError(`the admin API at ${root} answered ${response.status}${hint}`);
}

/** Parses the stream's `event:`/`data:` blocks (src/http/activity-stream.ts writes them). */
async function readEvents(body: ReadableStream<Uint8Array>, print: Print): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const data = buffer.slice(0, end).split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6));
      buffer = buffer.slice(end + 2);
      if (data.length > 0) print(JSON.parse(data.join('\n')) as TailActivity);
    }
  }
}

/** The store, read for rows after the newest at start, every POLL_MS. */
async function tailStore(loaded: LoadedStore, filter: ActivityFilter, print: Print, signal: AbortSignal): Promise<void> {
  const { openStore } = await import('../store/index.js');
  const store = await openStore({ ...storeOptionsOf(loaded.store), create: false });
  const matches = compileActivityFilter(filter);
  let failing = false;
  try {
    let { cursor } = await store.activityAfter(undefined, 0);
    ready(`the store (${loaded.origin})`);
    while (!signal.aborted) {
      let found: StoredActivity | undefined;
      try {
        found = await store.activityAfter(cursor, BATCH);
        if (failing) process.stderr.write('audian-bridge tail: the store answers again\n');
        failing = false;
      } catch (err) {
        if (!failing) process.stderr.write(`audian-bridge tail: ${(err as Error).message}; trying again\n`);
        failing = true;
      }
      if (found) {
        cursor = found.cursor;
        for (const activity of inOrder(found)) if (matches(activity)) print(activity);
      }
      if (!found || (found.events.length < BATCH && found.attempts.length < BATCH)) await sleep(POLL_MS, signal);
    }
  } finally {
    await store.close();
  }
}

/** On stderr, so stdout stays the lines alone. */
function ready(where: string): void {
  process.stderr.write(`audian-bridge tail: watching ${where}; Ctrl-C to stop\n`);
}

const sourceName = (source: string) => (source.startsWith('audian/') ? source.slice('audian/'.length) : source);

/** The events and attempts read, as the activity feed would have told them, in time order. */
function inOrder(found: StoredActivity): TailActivity[] {
  const events = found.events.map(({ event, receivedAt }) => webhookOf(event, receivedAt));
  const attempts = found.attempts.map(deliveryOf);
  return [...events, ...attempts].sort((a, b) => a.at - b.at);
}

function webhookOf(event: CanonicalEvent, receivedAt: number): TailActivity {
  const call = event.data.call;
  return {
    kind: 'webhook',
    at: receivedAt,
    source: sourceName(event.source),
    outcome: 'accepted',
    eventId: event.id,
    type: event.type,
    ...(event.subject === undefined ? {} : { callId: event.subject }),
    ...(typeof call?.from === 'string' ? { from: call.from } : {}),
    ...(typeof call?.to === 'string' ? { to: call.to } : {}),
  };
}

function deliveryOf(attempt: StoredAttempt): TailActivity {
  return {
    kind: 'delivery',
    at: attempt.at,
    connector: attempt.connector,
    route: attempt.route,
    deliveryId: attempt.deliveryId,
    source: sourceName(attempt.source),
    eventId: attempt.eventId,
    type: attempt.type,
    callId: attempt.callId ?? '',
    outcome: attempt.outcome,
    ...(attempt.error === null ? {} : { error: attempt.error }),
    latencyMs: Math.max(0, attempt.at - attempt.receivedAt),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
