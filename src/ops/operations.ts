import ms from 'ms';
import { ExactInteger } from '../dialects/index.js';
import { BridgeError } from '../errors.js';
import {
  digitsOf,
  healthAt,
  type AttemptRecord,
  type AuditActor,
  type AuditEntry,
  type AuditRecord,
  type BulkReplaySelection,
  type CallRecord,
  type DeliveryDetail,
  type DeliveryRecord,
  type DeliverySearch,
  type DeliveryStatus,
  type EventSearch,
  type KeptRaw,
  type OperationsStore,
  type ReplaySelection,
} from '../store/index.js';

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

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request an event arrived in (`store.keep_raw`), for JSON: the headers as
 * `[name, value]` pairs in the order received (a secret's value `[redacted]`),
 * the body as text when it is UTF-8, else base64; null when none was kept.
 */
export function rawViewOf(raw: KeptRaw | undefined) {
  if (raw === undefined) return null;
  const bytes = raw.body.byteLength;
  try {
    return { headers: raw.headers, body: UTF8.decode(raw.body), encoding: 'utf8' as const, bytes };
  } catch {
    return { headers: raw.headers, body: Buffer.from(raw.body.buffer, raw.body.byteOffset, bytes).toString('base64'), encoding: 'base64' as const, bytes };
  }
}

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
const EVENT_FILTER_KEYS = new Set(['type', 'source', 'call', 'since', 'until', 'limit', 'cursor']);
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
  /** Per connector, deliveries being sent now; only the serving process knows (elsewhere `inFlight` is null). */
  readonly inFlight?: () => ReadonlyMap<string, number>;
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

/** An events query (query-string form) as the store's search; unknown keys refused. */
function eventSearchOf(query: Query, now: number): EventSearch {
  refuseUnknown(query, EVENT_FILTER_KEYS, 'filter');
  return {
    ...(query.type ? { type: query.type } : {}),
    ...(query.source ? { source: query.source } : {}),
    ...(query.call ? { call: query.call } : {}),
    ...(query.since ? { since: parseTime(query.since, 'since', now) } : {}),
    ...(query.until ? { until: parseTime(query.until, 'until', now) } : {}),
    ...(query.cursor ? { before: parseId(query.cursor, 'cursor') } : {}),
    limit: parseLimit(query.limit, DEFAULT_LIMIT, MAX_LIMIT),
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
  if (input.upTo !== undefined) return bulkSelectionOf(input, now);
  const keys = Object.keys(input).filter((key) => input[key] !== undefined);
  const unknown = keys.find((key) => !REPLAY_FILTER_KEYS.has(key));
  if (unknown) {
    const counted = BULK_KEYS.has(unknown) ? ', or this filter with the upTo a count gave (GET /admin/deliveries/count)' : '';
    throw new BridgeError('INVALID_REQUEST', `unknown replay filter "${unknown}" (use ids, or ${[...REPLAY_FILTER_KEYS].join(', ')}${counted})`);
  }
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

/** The keys of a bulk replay: any deliveries filter, the newest id counted (`upTo`), and when it was counted (`asOf`). */
const BULK_KEYS = new Set(['status', 'connector', 'route', 'type', 'event', 'call', 'since', 'until', 'upTo', 'asOf']);
const COUNT_KEYS = new Set(['status', 'connector', 'route', 'type', 'event', 'call', 'since', 'until']);
/** A bulk replay queues these statuses again; pending deliveries are queued already and are left alone. */
const REPLAYABLE: readonly DeliveryStatus[] = ['dead', 'delivered', 'skipped'];

/** `status` of a JSON body: a list, or one string with several separated by commas. */
function statusesOfBody(value: unknown): DeliveryStatus[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return parseStatuses(value.join(','));
  if (typeof value === 'string') return parseStatuses(value);
  throw new BridgeError('INVALID_REQUEST', 'status must be a status, a list of them, or several separated by commas');
}

/** A bulk replay: the filter of a count, and the `upTo` (and `asOf`) it answered; the statuses must be named. */
function bulkSelectionOf(input: Record<string, unknown>, now: number): BulkReplaySelection {
  refuseUnknown(input as Query, BULK_KEYS, 'replay filter');
  const statuses = statusesOfBody(input.status)?.filter((status) => REPLAYABLE.includes(status));
  if (!statuses || statuses.length === 0) {
    throw new BridgeError('REPLAY_STATUS_REQUIRED', 'a bulk replay must name the statuses it replays: dead, delivered or skipped (pending ones are queued already)');
  }
  const text = (key: string) => nonEmpty(input[key], key);
  const time = (key: string) => (text(key) === undefined ? undefined : parseTime(text(key) as string, key, now));
  const since = time('since');
  const until = time('until');
  const asOf = time('asOf');
  const search = {
    statuses,
    ...(text('connector') ? { connector: text('connector') as string } : {}),
    ...(text('route') ? { route: text('route') as string } : {}),
    ...(text('type') ? { type: text('type') as string } : {}),
    ...(text('event') ? { event: text('event') as string } : {}),
    ...(text('call') ? { call: text('call') as string } : {}),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
  return { search, upTo: parseId(input.upTo, 'upTo'), ...(asOf === undefined ? {} : { asOf }) };
}

/** The audit, newest first, as an operator reads it; times ISO 8601. */
function auditViewOf(record: AuditRecord) {
  return { ...record, at: iso(record.at) };
}

/** Deliveries: list, show, replay, purge. */
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

    /** One delivery with every attempt (`attempts`: at, outcome, error, duration_ms); a pending one of a paused connector says so (`pausedSince`, `waiting`). */
    async showDelivery(idText: string) {
      const id = parseId(idText, 'the delivery id');
      const [detail, paused] = await Promise.all([store.delivery(id), store.paused()]);
      if (!detail) throw new BridgeError('NOT_FOUND', `no delivery ${id} (dead ones stay until purged; delivered ones go with their event after dedupe_ttl)`);
      const pause = detail.status === 'pending' ? paused.find((row) => row.connector === detail.connector) : undefined;
      // A paused connector's delivery stays pending with its nextAttemptAt in the past: say why it waits.
      return { ...detailOf(detail), pausedSince: pause ? iso(pause.since) : null, ...(pause ? { waiting: `connector ${detail.connector} is paused: nothing is sent to it until \`audian-bridge resume ${detail.connector}\`` } : {}) };
    },

    /**
     * `{ids: [...]}`: dead ones queued with a fresh budget, delivered ones sent
     * again; or a filter (`status: dead`, which it must name; `connector`, `route`, `since`): the
     * dead ones it matches; or the `replay` a count answered (`countDeliveries`): exactly what it
     * counted. Answers what was queued and what was skipped, and why; with `actor`, the audit
     * row is written in the same transaction.
     */
    async replay(body: unknown, actor?: AuditActor) {
      const at = now();
      const result = await store.replay(replaySelectionOf(body, at), at, actor);
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
  };
}

/** Events: list, and trace one with its call and deliveries. */
function eventOperations(store: OperationsStore, now: () => number) {
  return {
    /**
     * `{events, cursor}`: stored events, newest accepted first, each with when
     * it was accepted; filters `type`, `source`, `call`, `since`, `until`;
     * pass `cursor` back for the next page (absent on the last one).
     */
    async listEvents(query: Query) {
      const search = eventSearchOf(query, now());
      const rows = await store.listEvents(search);
      const last = rows.at(-1);
      return {
        events: rows.map((stored) => ({ receivedAt: iso(stored.receivedAt), event: stored.event })),
        ...(rows.length === search.limit && last ? { cursor: String(last.seq) } : {}),
      };
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
        raw: rawViewOf(latest.raw),
        others: others.map((trace) => ({
          type: trace.event.type, source: trace.event.source, receivedAt: iso(trace.receivedAt), event: trace.event, deliveries: trace.deliveries.map(viewOf), raw: rawViewOf(trace.raw),
        })),
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

/** Bulk replay's first step: the count of a filter, and the body that replays exactly what it counted. */
function countOperations(store: OperationsStore, now: () => number) {
  return {
    /**
     * What a bulk replay of this filter would do now: how many deliveries
     * match, per status, and what happens to each (dead ones queued again,
     * delivered and skipped ones sent again with a new key, pending ones left
     * alone); `replay` is the body that replays exactly these, and nothing
     * that arrives after (its `upTo` is the newest id counted).
     */
    async countDeliveries(query: Query) {
      refuseUnknown(query, COUNT_KEYS, 'filter');
      const at = now();
      const { limit: _limit, ...search } = deliverySearchOf(query, at);
      const counted = await store.countDeliveries(search);
      const { byStatus } = counted;
      const statuses = (search.statuses ?? REPLAYABLE).filter((status) => REPLAYABLE.includes(status));
      const fields = ['connector', 'route', 'type', 'event', 'call'] as const;
      return {
        matched: byStatus.pending + byStatus.delivered + byStatus.skipped + byStatus.dead,
        byStatus,
        effect: { requeue: byStatus.dead, resend: byStatus.delivered + byStatus.skipped, leave: byStatus.pending },
        upTo: counted.newest ?? null,
        countedAt: iso(at),
        replay:
          counted.newest === undefined || statuses.length === 0
            ? null
            : {
                status: statuses,
                ...Object.fromEntries(fields.filter((key) => search[key] !== undefined).map((key) => [key, search[key]])),
                ...(search.since === undefined ? {} : { since: iso(search.since) }),
                ...(search.until === undefined ? {} : { until: iso(search.until) }),
                upTo: counted.newest,
                asOf: iso(at),
              },
      };
    },
  };
}

/** The operators' audit: read it, and record an action that is no store write of its own. */
function auditOperations(store: OperationsStore, now: () => number) {
  return {
    /** `{entries, cursor}`: newest first; pass `cursor` back for the next page (absent on the last one). */
    async audit(query: Query) {
      refuseUnknown(query, new Set(['limit', 'cursor']), 'audit key');
      const limit = parseLimit(query.limit, DEFAULT_LIMIT, MAX_LIMIT);
      const rows = await store.auditLog({ limit, ...(query.cursor ? { before: parseId(query.cursor, 'cursor') } : {}) });
      const last = rows.at(-1);
      return { entries: rows.map(auditViewOf), ...(rows.length === limit && last ? { cursor: String(last.id) } : {}) };
    },

    /** Records `entry` as of now; resolves once the row is durable, rejects (STORE_UNAVAILABLE) when it cannot be written. */
    recordAudit: (entry: Omit<AuditEntry, 'at'>) => store.recordAudit({ at: now(), ...entry }),
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
     * waits), in flight (null outside the serving process), dead, and the
     * latest error of a delivery still failing.
     */
    async connectors() {
      const [pending, dead, paused, health] = await Promise.all([store.pendingStats(), store.deadStats(), store.paused(), store.connectorHealth()]);
      const names = [...new Set([...deps.connectors, ...pending.map((row) => row.connector), ...dead.map((row) => row.connector)])];
      const errors = await store.lastErrors(names);
      const sending = deps.inFlight?.();
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
            inFlight: sending ? (sending.get(name) ?? 0) : null,
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

    async pause(name: string, actor?: AuditActor) {
      const changed = await store.pause(knownConnector(name), now(), actor);
      return { connector: name, paused: true, changed };
    },

    async resume(name: string, actor?: AuditActor) {
      const changed = await store.resume(knownConnector(name), now(), actor);
      if (changed) deps.onQueued?.([name]);
      return { connector: name, paused: false, changed };
    },
  };
}

export function createOperations(deps: OperationsDeps) {
  const now = deps.now ?? Date.now;
  return {
    ...deliveryOperations(deps.store, now, deps.onQueued),
    ...eventOperations(deps.store, now),
    ...callOperations(deps.store),
    ...connectorOperations(deps, now),
    ...countOperations(deps.store, now),
    ...auditOperations(deps.store, now),
  };
}

export type Operations = ReturnType<typeof createOperations>;
