import { createHash } from 'node:crypto';
import { ExactInteger, type CallInfo, type CanonicalEvent, type DialectId, type EventData, type JsonObject, type NormalizeContext } from './types.js';

/** Longest canonical type name; longer names are cut (a type is a routing key, not a payload). */
export const MAX_TYPE_LENGTH = 200;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Ids may arrive as numbers (seed 004 `call_id: 1`); canonical ids are strings,
 * of the digits as sent also beyond 2^53.
 */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (value instanceof ExactInteger) return value.digits;
  return undefined;
}

/** Turns every `ExactInteger` left outside the ids back into a number, in place. */
function plainNumbers(value: unknown): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item instanceof ExactInteger) value[i] = Number(item.digits);
      else plainNumbers(item);
    }
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item instanceof ExactInteger) value[key] = Number(item.digits);
      else plainNumbers(item);
    }
  }
}

/** A lookup that only answers for its own keys: `constructor` or `toString` are not in it. */
export function table<V>(entries: Readonly<Record<string, V>>): ReadonlyMap<string, V> {
  return new Map(Object.entries(entries));
}

function textOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * A type the bridge does not know is still routed: lower-cased, reduced to
 * `[a-z0-9_.]` (each run of other characters becomes one `_`), stripped of
 * leading and trailing `_` / `.`, cut at MAX_TYPE_LENGTH, and given a dot after
 * its first word when it has none (`call_parked` -> `call.parked`), so `call.*`
 * globs catch it. One pass, and it stops at the length bound: a hostile name
 * costs time in proportion to the bound, not to its length squared.
 */
export function normalizeTypeName(raw: string): string {
  let name = '';
  let pendingGap = false;
  for (let i = 0; i < raw.length && name.length < MAX_TYPE_LENGTH; i++) {
    const c = raw.charCodeAt(i);
    const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    const kept = (lower >= 0x61 && lower <= 0x7a) || (lower >= 0x30 && lower <= 0x39) || lower === 0x5f || lower === 0x2e;
    if (!kept) {
      pendingGap = name.length > 0;
      continue;
    }
    if (name.length === 0 && (lower === 0x5f || lower === 0x2e)) continue; // leading separators go
    if (pendingGap) name += '_';
    pendingGap = false;
    name += String.fromCharCode(lower);
  }
  name = trimSeparators(name.slice(0, MAX_TYPE_LENGTH));
  if (!name.includes('.')) name = name.replace('_', '.');
  return name || 'unknown';
}

function trimSeparators(name: string): string {
  let end = name.length;
  while (end > 0 && (name[end - 1] === '_' || name[end - 1] === '.')) end--;
  return name.slice(0, end);
}

/** An id for payloads without one: the same body (a retry) always gets the same id. */
function idFromBody(dialect: DialectId, rawBody: Buffer): string {
  const prefix = dialect === 'voice' ? 'voice' : dialect.replace('.', '-');
  return `${prefix}_${createHash('sha256').update(rawBody).digest('hex').slice(0, 32)}`;
}

/** ISO 8601 UTC from an ISO string or unix seconds; undefined when unreadable. */
export function toIsoTime(value: unknown): string | undefined {
  if (value instanceof ExactInteger) return undefined; // beyond any date
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000;
  else if (typeof value === 'string' && /^\d{9,11}$/.test(value)) ms = Number(value) * 1000;
  else if (typeof value === 'string' && value.length > 0) ms = Date.parse(value);
  if (ms === undefined || Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

const STATUS_BY_TYPE = table({
  'call.initiated': 'initiated',
  'call.ringing': 'ringing',
  'call.answered': 'answered',
  'call.bridged': 'answered',
  'call.completed': 'completed',
  'call.failed': 'failed',
  'call.cancelled': 'cancelled',
});

/** The `data.call` block from fields already in the `audian.v2` vocabulary. */
function callInfo(type: string, data: EventData): CallInfo | undefined {
  const id = idString(data.call_id);
  if (id === undefined) return undefined;
  const call: CallInfo = { id };
  const direction = textOrUndefined(data.call_type);
  const from = textOrUndefined(data.from);
  const to = textOrUndefined(data.to);
  const fromName = textOrUndefined(data.from_name);
  const status = STATUS_BY_TYPE.get(type) ?? textOrUndefined(data.status);
  if (direction) call.direction = direction;
  if (from) call.from = from;
  if (to) call.to = to;
  if (fromName) call.from_name = fromName;
  if (status) call.status = status;
  return call;
}

/** Copies `source` with keys renamed by `renames`; keys without a rename are kept as they are. */
export function renameKeys(source: JsonObject, renames: ReadonlyMap<string, string>): EventData {
  const out: EventData = {};
  for (const [key, value] of Object.entries(source)) {
    const target = renames.get(key) ?? key;
    // A payload carrying both the old and the new name keeps the new name's own value.
    if (target !== key && Object.hasOwn(source, target)) {
      out[key] = value;
      continue;
    }
    out[target] = value;
  }
  return out;
}

/** Top-level keys outside the dialect's envelope are kept under `data.envelope`, never dropped. */
export function extraEnvelope(body: JsonObject, known: readonly string[]): JsonObject | undefined {
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(body)) if (!known.includes(key)) extra[key] = value;
  return Object.keys(extra).length > 0 ? extra : undefined;
}

export function buildEvent(
  parts: {
    dialect: DialectId;
    id: string | undefined;
    type: string;
    time: string | undefined;
    test: boolean;
    account: string | undefined;
    data: EventData;
    envelope: JsonObject | undefined;
  },
  context: NormalizeContext,
): CanonicalEvent {
  const data = parts.data;
  if (data.call_id !== undefined) {
    const id = idString(data.call_id);
    if (id !== undefined) data.call_id = id;
  }
  const call = callInfo(parts.type, data);
  if (call) data.call = call;
  if (parts.envelope) data.envelope = parts.envelope;
  plainNumbers(data);
  const event: CanonicalEvent = {
    specversion: '1.0',
    id: parts.id ?? idFromBody(parts.dialect, context.rawBody),
    source: context.source,
    type: parts.type,
    ...(call ? { subject: call.id } : {}),
    time: parts.time ?? new Date(context.receivedAt).toISOString(),
    datacontenttype: 'application/json',
    dialect: parts.dialect,
    test: parts.test,
    ...(parts.account ? { account: parts.account } : {}),
    data,
  };
  return event;
}
