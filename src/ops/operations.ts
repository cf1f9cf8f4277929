import ms from 'ms';
import { ExactInteger } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import { digitsOf, healthAt, type AttemptRecord, type CallRecord, type DeliveryDetail, type DeliveryRecord, type DeliverySearch, type DeliveryStatus, type OperationsStore, type ReplaySelection } from '../store/index.js';

/**
 * What an operator can do with the outbox, as JSON in and JSON out: the admin
 * API serves it, and the CLI runs it on the local file or reaches it through
 * the admin API, so both answer alike. Times are ISO 8601; bad input is
 * `INVALID_REQUEST`, something that does not exist `NOT_FOUND`.
 */

const STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'skipped', 'dead'];
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

/** Query-string style input: every value a string, absent keys undefined. */
export type Query = Readonly<Record<string, string | undefined>>;

export interface DeliveryView {
  readonly id: number;
  readonly eventId: string;
  readonly type: string;
  readonly source: string;
  readonly callId: string | null;
  readonly route: string;
  readonly connector: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly replay: number;
  /** When the next attempt is due; null unless pending. */
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  /** Why the connector skipped it, for a `skipped` delivery. */
  readonly skipReason?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AttemptView {
  readonly at: string;
  readonly outcome: AttemptRecord['outcome'];
  readonly error: string | null;
  readonly duration_ms: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function viewOf(record: DeliveryRecord): DeliveryView {
  // Only the times change form; a detail's attempt history is shown apart (`detailOf`).
  const { history: _history, ...fields } = record as DeliveryRecord & { history?: unknown };
  return {
    ...fields,
    nextAttemptAt: record.status === 'pending' ? iso(record.nextAttemptAt) : null,
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
  };
}

/** A call as an operator reads it; times ISO 8601. */
function callViewOf(call: CallRecord) {
  return {
    source: call.source,
    callId: call.callId,
    direction: call.direction ?? null,
    from: call.from ?? null,
    to: call.to ?? null,
    fromName: call.fromName ?? null,
    status: call.status ?? null,
    answered: call.answered,
    startedAt: call.startedAt ?? null,
    endedAt: call.endedAt ?? null,
    endReason: call.endReason ?? null,
    missed: call.missed ?? null,
    missedCheckAt: call.missedCheckAt === undefined ? null : iso(call.missedCheckAt),
    summaryRevision: call.summaryRevision ?? null,
    summaryCheckAt: call.summaryCheckAt === undefined ? null : iso(call.summaryCheckAt),
    tags: call.tags ?? null,
    updatedAt: iso(call.updatedAt),
  };
}

export type CallView = ReturnType<typeof callViewOf>;

function detailOf(detail: DeliveryDetail) {
  const { attempts, ...view } = viewOf(detail);
  return {
    ...view,
    attemptCount: attempts,
    attempts: detail.history.map((attempt): AttemptView => ({ at: iso(attempt.at), outcome: attempt.outcome, error: attempt.error, duration_ms: attempt.durationMs })),
  };
}

/** An ISO 8601 time, or a duration meaning that long before `now` (`30d`, `2h`). */
export function parseTime(value: string, key: string, now: number): number {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?[a-z]+$/i.test(trimmed)) {
    const ago = ms(trimmed as ms.StringValue);
    if (typeof ago === 'number' && Number.isFinite(ago)) return now - ago;
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(at)) throw new BridgeError('INVALID_REQUEST', `${key} must be an ISO 8601 time (2026-03-01T12:00:00Z) or a duration ago (30d, 2h), not "${value}"`);
  return at;
}

/** What the client sent, for a message: integers beyond 2^53 as their digits (the JSON parser's ExactInteger), long text cut. */
function shown(value: unknown): string {
  const text = value instanceof ExactInteger ? value.digits : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * A delivery id: a positive whole number, as a JSON number or its digits.
 * Beyond 2^53 a double would round it to another id, so such an id is
 * refused (ID_OUT_OF_RANGE) rather than looked up.
 */
function parseId(value: unknown, key: string): number {
  const text = value instanceof ExactInteger ? value.digits : typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[1-9]\d*$/.test(text)) throw new BridgeError('INVALID_REQUEST', `${key} must be a delivery id (a positive whole number), not ${shown(value)}`);
  const id = Number(text);
  if (!Number.isSafeInteger(id)) throw new BridgeError('ID_OUT_OF_RANGE', `${key} is ${shown(text)}, beyond the largest delivery id (${Number.MAX_SAFE_INTEGER}): no delivery has it`);
  return id;
}

/** One status, or several separated by commas (`dead,pending`). */
function parseStatuses(value: string | undefined): DeliveryStatus[] | undefined {
  if (value === undefined) return undefined;
  const statuses = value.split(',').map((status) => status.trim());
  const wrong = statuses.find((status) => !STATUSES.includes(status as DeliveryStatus));
  if (wrong !== undefined) throw new BridgeError('INVALID_REQUEST', `status must be one or more of ${STATUSES.join(', ')} (separated by commas), not "${wrong}"`);
  return [...new Set(statuses as DeliveryStatus[])];
}

/** `limit` from a query: a whole number from 1 to `max`. */
function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const limit = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(limit) || limit < 1 || limit > max) throw new BridgeError('INVALID_REQUEST', `limit must be a whole number from 1 to ${max}`);
  return limit;
}

/** Refuses a key `allowed` does not name (with a value), saying which are. */
function refuseUnknown(query: Query, allowed: ReadonlySet<string>, what: string): void {
  const unknown = Object.keys(query).find((key) => !allowed.has(key) && query[key] !== undefined);
  if (unknown) throw new BridgeError('INVALID_REQUEST', `unknown ${what} "${unknown}" (use ${[...allowed].join(', ')})`);
}

function nonEmpty(value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new BridgeError('INVALID_REQUEST', `${key} must be a non-empty string`);
  return value;
}

const FILTER_KEYS = new Set(['status', 'connector', 'route', 'type', 'event', 'call', 'since', 'until', 'limit', 'cursor']);
const CALL_SEARCH_KEYS = new Set(['phone', 'call', 'limit']);
/** Most events and deliveries shown for one call. */
const CALL_ROWS = 1000;
const REPLAY_FILTER_KEYS = new Set(['status', 'connector', 'route', 'since']);

export interface OperationsDeps {
  readonly store: OperationsStore;
  /** The configured connectors: pausing another name is `NOT_FOUND`, not a pause nobody would lift. */
  readonly connectors: ReadonlySet<string>;
  readonly now?: () => number;
  /** Told when deliveries became due (a replay, a resume), so a dispatcher in this process looks at once. */
  readonly onQueued?: (connectors?: readonly string[]) => void;
  /** The running config, redacted (src/config/redact.ts), and when it was loaded; only the serving process knows it. */
  readonly configuration?: () => { readonly config: unknown; readonly loadedAt: string };
}

/** A deliveries query (query-string form) as the store's search; unknown keys refused. */
function deliverySearchOf(query: Query, now: number): DeliverySearch {
  refuseUnknown(query, FILTER_KEYS, 'filter');
  const limit = parseLimit(query.limit, DEFAULT_LIMIT, MAX_LIMIT);
  const statuses = parseStatuses(query.status);
  return {
    ...(statuses ? { statuses } : {}),
    ...(query.connector ? { connector: query.connector } : {}),
    ...(query.route ? { route: query.route } : {}),
    ...(query.type ? { type: query.type } : {}),
    ...(query.event ? { event: query.event } : {}),
    ...(query.call ? { call: query.call } : {}),
    ...(query.since ? { since: parseTime(query.since, 'since', now) } : {}),
    ...(query.until ? { until: parseTime(query.until, 'until', now) } : {}),
    ...(query.cursor ? { before: parseId(query.cursor, 'cursor') } : {}),
    limit,
  };
}

/** What a replay request names: ids, or a filter of dead deliveries that must say `status: dead`. */
function replaySelectionOf(body: unknown, now: number): ReplaySelection {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BridgeError('INVALID_REQUEST', 'send {"ids": [...]} or a filter such as {"status": "dead", "connector": "crm"}');
  const input = body as Record<string, unknown>;
  if (input.ids !== undefined) {
    if (Object.keys(input).some((key) => key !== 'ids')) throw new BridgeError('INVALID_REQUEST', 'give ids or a filter, not both');
    if (!Array.isArray(input.ids) || input.ids.length === 0) throw new BridgeError('INVALID_REQUEST', 'ids must be a non-empty list of delivery ids');
    if (input.ids.length > MAX_LIMIT) throw new BridgeError('INVALID_REQUEST', `at most ${MAX_LIMIT} ids at once`);
    return { ids: input.ids.map((id, index) => parseId(id, `ids[${index}]`)) };
  }
  const keys = Object.keys(input).filter((key) => input[key] !== undefined);
  const unknown = keys.find((key) => !REPLAY_FILTER_KEYS.has(key));
  if (unknown) throw new BridgeError('INVALID_REQUEST', `unknown replay filter "${unknown}" (use ids, or ${[...REPLAY_FILTER_KEYS].join(', ')})`);
  // An empty filter would replay everything dead: asking for it takes `status: dead`.
  if (keys.length === 0) throw new BridgeError('INVALID_REQUEST', 'name ids or a filter; {"status": "dead"} replays every dead delivery');
  // Spelled out, so {"connector": "crm"} is never taken for every delivery of crm: a filter replays dead ones only.
  if (input.status === undefined) throw new BridgeError('REPLAY_STATUS_REQUIRED', 'a replay filter must name its status: add "status": "dead" (a filter replays dead deliveries only)');
  if (input.status !== undefined && input.status !== 'dead') {
    throw new BridgeError('INVALID_REQUEST', 'a filter replays dead deliveries only; name delivered ones by id to send them again');
  }
  const since = nonEmpty(input.since, 'since');
  const connector = nonEmpty(input.connector, 'connector');
  const route = nonEmpty(input.route, 'route');
  return {
    filter: {
      ...(connector ? { connector } : {}),
      ...(route ? { route } : {}),
      ...(since ? { since: parseTime(since, 'since', now) } : {}),
    },
  };
}

/** Deliveries and events: list, show, replay, purge, trace. */
function deliveryOperations(store: OperationsStore, now: () => number, onQueued: OperationsDeps['onQueued']) {
  return {
    /**
     * `{deliveries, cursor}`: newest first; pass `cursor` back for the next page (absent on the last one).
     * `status` takes several, separated by commas; `since` and `until` bound when they were created.
     */
    async listDeliveries(query: Query) {
      const filter = deliverySearchOf(query, now());
      const limit = filter.limit;
      const rows = await store.searchDeliveries(filter);
      const last = rows.at(-1);
      return { deliveries: rows.map(viewOf), ...(rows.length === limit && last ? { cursor: String(last.id) } : {}) };
    },

    /** One delivery with every attempt (`attempts`: at, outcome, error, duration_ms). */
    async showDelivery(idText: string) {
      const id = parseId(idText, 'the delivery id');
      const detail = await store.delivery(id);
      if (!detail) throw new BridgeError('NOT_FOUND', `no delivery ${id} (dead ones stay until purged; delivered ones go with their event after dedupe_ttl)`);
      return detailOf(detail);
    },

    /**
     * `{ids: [...]}`: dead ones queued with a fresh budget, delivered ones sent
     * again; or a filter (`status: dead`, which it must name; `connector`, `route`, `since`): the
     * dead ones it matches. Answers what was queued and what was skipped, and why.
     */
    async replay(body: unknown) {
      const result = await store.replay(replaySelectionOf(body, now()), now());
      if (result.queued.length > 0) onQueued?.();
      return { queued: result.queued.length, ids: result.queued, skipped: result.skipped };
    },

    /** Deletes dead deliveries last changed before `before` (a time or a duration ago). */
    async purge(options: { status?: string; before?: string; connector?: string }) {
      if (options.status !== 'dead') throw new BridgeError('INVALID_REQUEST', 'purge removes dead deliveries only: give status dead');
      if (!options.before) throw new BridgeError('INVALID_REQUEST', 'give before (e.g. 30d, or an ISO 8601 time): dead deliveries last changed before it are removed');
      const before = parseTime(options.before, 'before', now());
      const purged = await store.purgeDead(before, options.connector ? { connector: options.connector } : {});
      return { purged, before: iso(before) };
    },

    /** The stored event, its call and its deliveries; `others` counts other events sharing the id (another type or source). */
    async event(eventId: string) {
      const traces = await store.trace(eventId);
      const [latest, ...others] = traces;
      if (!latest) throw new BridgeError('NOT_FOUND', `no stored event ${JSON.stringify(eventId)} (events go after dedupe_ttl unless a delivery still needs them)`);
      return {
        event: latest.event,
        receivedAt: iso(latest.receivedAt),
        call: latest.call ?? null,
        deliveries: latest.deliveries.map(viewOf),
        others: others.map((trace) => ({ type: trace.event.type, source: trace.event.source, receivedAt: iso(trace.receivedAt), event: trace.event, deliveries: trace.deliveries.map(viewOf) })),
      };
    },

  };
}

/** Calls: found by id or by phone number, and one call whole. */
function callOperations(store: OperationsStore) {
  return {
    /** `{calls}`: by `call` id (every source that has it), or by `phone`, the caller's or callee's number compared as digits, newest first. */
    async calls(query: Query) {
      refuseUnknown(query, CALL_SEARCH_KEYS, 'search key');
      const limit = parseLimit(query.limit, DEFAULT_LIMIT, MAX_LIMIT);
      if ((query.phone === undefined) === (query.call === undefined)) throw new BridgeError('INVALID_REQUEST', 'give phone (a number, compared as digits) or call (a call id)');
      if (query.call !== undefined) return { calls: (await store.callsWithId(nonEmpty(query.call, 'call') as string)).slice(0, limit).map(callViewOf) };
      const digits = digitsOf(query.phone as string);
      if (digits.length < 3) throw new BridgeError('INVALID_REQUEST', `phone must hold at least 3 digits, not "${shown(query.phone)}"`);
      return { calls: (await store.callsWithNumber(digits, limit)).map(callViewOf) };
    },

    /** One call id: its calls (one per source), every stored event in the order accepted, every delivery; `truncated` past 1000 of either. */
    async call(callId: string) {
      const [calls, events, deliveries] = await Promise.all([store.callsWithId(callId), store.eventsOfCall(callId, CALL_ROWS), store.deliveriesOfCall(callId, CALL_ROWS)]);
      if (calls.length === 0 && events.length === 0) throw new BridgeError('NOT_FOUND', `no call ${JSON.stringify(callId)} is stored (calls go after dedupe_ttl)`);
      return {
        callId,
        calls: calls.map(callViewOf),
        events: events.map((stored) => ({ receivedAt: iso(stored.receivedAt), event: stored.event })),
        deliveries: deliveries.map(viewOf),
        truncated: events.length === CALL_ROWS || deliveries.length === CALL_ROWS,
      };
    },

  };
}

/** Connectors: their state, pause and resume; and the running configuration. */
function connectorOperations(deps: OperationsDeps, now: () => number) {
  const { store } = deps;
  function knownConnector(name: string): string {
    if (!deps.connectors.has(name)) {
      throw new BridgeError('NOT_FOUND', `no connector named "${name}" (configured: ${[...deps.connectors].join(', ') || 'none'})`);
    }
    return name;
  }

  return {
    /**
     * Every configured connector (and any other that still has deliveries
     * waiting or dead): paused or not, its health (up, down or held by the
     * dispatcher, since when and why), pending (and since when the oldest
     * waits), dead, and the latest error of a delivery still failing.
     */
    async connectors() {
      const [pending, dead, paused, health] = await Promise.all([store.pendingStats(), store.deadStats(), store.paused(), store.connectorHealth()]);
      const names = [...new Set([...deps.connectors, ...pending.map((row) => row.connector), ...dead.map((row) => row.connector)])];
      const errors = await store.lastErrors(names);
      return {
        connectors: names.map((name) => {
          const waiting = pending.find((row) => row.connector === name);
          const pause = paused.find((row) => row.connector === name);
          const error = errors.find((row) => row.connector === name);
          const judged = healthAt(health.find((row) => row.connector === name), now());
          return {
            name,
            configured: deps.connectors.has(name),
            paused: pause !== undefined,
            pausedSince: pause ? iso(pause.since) : null,
            health: judged.state,
            healthSince: judged.since === null ? null : iso(judged.since),
            healthReason: judged.reason,
            pending: waiting?.n ?? 0,
            oldestPendingAt: waiting ? iso(waiting.oldest) : null,
            dead: dead.find((row) => row.connector === name)?.n ?? 0,
            lastError: error ? { error: error.error, at: iso(error.at), deliveryId: error.deliveryId } : null,
          };
        }),
      };
    },

    /** The running config with every secret redacted, and when it was loaded. */
    configuration() {
      if (!deps.configuration) throw new BridgeError('NOT_IMPLEMENTED', 'the configuration is known to the serving process only');
      return deps.configuration();
    },

    async pause(name: string) {
      const changed = await store.pause(knownConnector(name), now());
      return { connector: name, paused: true, changed };
    },

    async resume(name: string) {
      const changed = await store.resume(knownConnector(name), now());
      if (changed) deps.onQueued?.([name]);
      return { connector: name, paused: false, changed };
    },
  };
}

export function createOperations(deps: OperationsDeps) {
  const now = deps.now ?? Date.now;
  return {
    ...deliveryOperations(deps.store, now, deps.onQueued),
    ...callOperations(deps.store),
    ...connectorOperations(deps, now),
  };
}

export type Operations = ReturnType<typeof createOperations>;
