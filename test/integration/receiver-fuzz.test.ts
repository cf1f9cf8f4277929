import fc from 'fast-check';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, ERRORS } from '../../src/errors.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { postWebhook, startBridge, type PostResult, type TestBridge } from '../helpers/bridge.js';

/**
 * Property tests of the receiver over HTTP, with a fixed seed and a bounded
 * number of runs so CI stays fast and a failure replays exactly.
 */
const SEED = 20_261_201;
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
const PATH = '/webhooks/audian';

/** A JSON token written as it is (big integers, `1e400`), for text JSON.stringify cannot produce. */
class RawToken {
  constructor(readonly text: string) {}
}
function toJson(value: unknown): string {
  if (value instanceof RawToken) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}:${toJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf', '__defineGetter__'];
const KNOWN_NAMES = ['call.initiated', 'call.completed', 'call.failed', 'channel_destroy', 'channel_create', 'call_ended', 'transcript', 'error'];
const FIELD_NAMES = ['id', 'call_id', 'call', 'from', 'to', 'status', 'reason', 'hangup_cause', 'caller_id_number', 'direction', 'type', 'transcript', 'tags', 'envelope', 'data'];

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...PROTOTYPE_NAMES, ...KNOWN_NAMES, 'NO_ANSWER', 'ORIGINATOR_CANCEL', 'inbound'));
const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...PROTOTYPE_NAMES.filter((name) => name !== '__proto__'), ...FIELD_NAMES));
const bigInteger = fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((value) => new RawToken(value.toString()));
const leaf = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), bigInteger);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 5 })),
}));
const object = fc.dictionary(key, value, { maxKeys: 6 });
const id = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), bigInteger, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null));
const time = fc.oneof(fc.constant('2026-03-01T12:00:00Z'), fc.string({ maxLength: 30 }), fc.integer(), bigInteger);
const typeName = fc.oneof(text, fc.string({ maxLength: 300 }));
const extras = fc.dictionary(key, value, { maxKeys: 2 });

/** Each dialect's envelope with arbitrary contents, plus JSON of no dialect. */
const envelopes = fc.oneof(
  fc.tuple(fc.record({ id, timestamp: time, event: typeName, data: object }, { requiredKeys: ['event', 'data'] }), extras),
  fc.tuple(fc.record({ id, account_id: id, hook: typeName, timestamp: time, data: object }, { requiredKeys: ['hook', 'data'] }), extras),
  fc.tuple(
    fc.record(
      { event_type: typeName, timestamp_utc: time, payload: fc.tuple(object, fc.option(object)).map(([payload, call]) => (call ? { ...payload, call } : payload)), is_test: fc.boolean() },
      { requiredKeys: ['event_type', 'payload'] },
    ),
    extras,
  ),
  fc.tuple(value, fc.constant({})),
).map(([envelope, extra]) => (typeof envelope === 'object' && envelope !== null && !Array.isArray(envelope) && !(envelope instanceof RawToken) ? { ...extra, ...envelope } : envelope));

/** Every object key anywhere in a value. */
function keysIn(input: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(input)) for (const item of input) keysIn(item, into);
  else if (typeof input === 'object' && input !== null && !(input instanceof RawToken)) {
    for (const [name, item] of Object.entries(input)) {
      into.add(name);
      keysIn(item, into);
    }
  }
  return into;
}

/**
 * The documented mapping (docs/events.md, "The event" and "Dialects"):
 * the keys a canonical event may hold beyond the input's own.
 */
const ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dialect', 'test', 'account', 'data']);
const CALL_BLOCK = new Set(['id', 'direction', 'from', 'to', 'from_name', 'status']);
const DERIVED = new Set(['call', 'envelope', 'status', 'completion_reason', 'cancelled_by', 'reason', 'reason_code']);
const RENAMED: Readonly<Record<string, readonly string[]>> = {
  'audian.v2': [],
  'audian.hooks': ['from', 'to', 'from_name', 'duration', 'call_type'],
  voice: ['call_id', 'call_type', 'speaker', 'text', 'call_raw'],
};

/** Keys of `value` (at any depth) that are neither the input's nor allowed. */
function foreignKeys(input: unknown, allowed: ReadonlySet<string>, found: string[] = []): string[] {
  if (Array.isArray(input)) for (const item of input) foreignKeys(item, allowed, found);
  else if (typeof input === 'object' && input !== null) {
    for (const [name, item] of Object.entries(input)) {
      if (!allowed.has(name)) found.push(name);
      foreignKeys(item, allowed, found);
    }
  }
  return found;
}

function defined(answer: PostResult): boolean {
  if (answer.status === 200) return typeof answer.body.id === 'string';
  const code = answer.body.error?.code;
  return code !== undefined && Object.hasOwn(ERRORS, code) && ERRORS[code as keyof typeof ERRORS].status === answer.status;
}

/**
 * Offsets in `text` where an escape can go inside a JSON string, key or value: after the opening quote and after
 * each code point or escape, so an insertion never splits either.
 */
function stringOffsets(text: string): number[] {
  const offsets: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (!inString) {
      if (c === '"') {
        inString = true;
        offsets.push(i + 1);
      }
      i++;
    } else if (c === '"') {
      inString = false;
      i++;
    } else {
      i += c === '\\' ? (text[i + 1] === 'u' ? 6 : 2) : text.codePointAt(i)! > 0xffff ? 2 : 1;
      offsets.push(i);
    }
  }
  return offsets;
}

/**
 * `text` with a surrogate escape (`\ud800`-`\udbff` when `high`, else `\udc00`-`\udfff`) at each picked offset.
 * All of one half, so two of them never make a pair; the strings hold no surrogate escapes of their own (JSON.stringify
 * writes astral characters as they are).
 */
function withLoneSurrogates(text: string, offsets: readonly number[], high: boolean, picks: readonly (readonly [number, number, boolean])[]): string {
  const inserts = picks.map(([pick, bits, upper]) => {
    const hex = ((high ? 0xd800 : 0xdc00) + bits).toString(16);
    return { at: offsets[pick % offsets.length]!, escape: `\\u${upper ? hex.toUpperCase() : hex}` };
  });
  let result = text;
  for (const { at, escape } of inserts.sort((a, b) => b.at - a.at)) result = result.slice(0, at) + escape + result.slice(at);
  return result;
}

/** `promise`, or a failure once `ms` have passed: a webhook that is never answered fails the property instead of hanging it. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge();
});
afterAll(() => bridge.stop());

function storedEvent(eventId: string): Record<string, unknown> & { data: Record<string, unknown>; dialect: string; subject?: string } {
  const row = bridge.db.prepare('SELECT body FROM events WHERE id = ? ORDER BY seq DESC LIMIT 1').get(eventId) as { body: string };
  return JSON.parse(row.body);
}

describe('receiver fuzz', () => {
  it('arbitrary JSON in every dialect envelope: never a 500, always a defined status and code; stored keys only by the documented mapping', async () => {
    await fc.assert(
      fc.asyncProperty(envelopes, async (input) => {
        const answer = await bridge.post(PATH, toJson(input));
        expect(answer.status).not.toBeGreaterThanOrEqual(500);
        expect(defined(answer), JSON.stringify(answer)).toBe(true);
        if (answer.status !== 200 || answer.body.duplicate === true) return;
        const event = storedEvent(answer.body.id as string);
        expect(foreignKeys(Object.fromEntries(Object.entries(event).filter(([name]) => name !== 'data')), ATTRIBUTES)).toEqual([]);
        const inputKeys = keysIn(input);
        const allowed = new Set([...inputKeys, ...DERIVED, ...RENAMED[event.dialect]!]);
        const { call, envelope, ...rest } = event.data;
        expect(foreignKeys(rest, allowed)).toEqual([]);
        // The call block holds its own fields when the event concerns a call; otherwise `call` is the payload's own value.
        if (call !== undefined && event.subject !== undefined) expect(Object.keys(call as object).filter((name) => !CALL_BLOCK.has(name))).toEqual([]);
        if (call !== undefined && event.subject === undefined) expect(foreignKeys([call], inputKeys)).toEqual([]);
        if (envelope !== undefined) expect(foreignKeys(envelope, inputKeys)).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('lone surrogates escaped at random places in strings and keys of any envelope: 400 LONE_SURROGATE at once, never a 5xx, nothing stored', async () => {
    const events = () => (bridge.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    const before = events();
    const picks = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0x3ff }), fc.boolean()), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(envelopes, fc.boolean(), picks, async (input, high, chosen) => {
        const text = toJson(input);
        // A NUL or a "constructor.prototype" key is refused with a code of its own, before a surrogate is looked for.
        fc.pre(!text.includes('\\u0000') && !text.includes('"prototype"'));
        const offsets = stringOffsets(text);
        fc.pre(offsets.length > 0);
        const answer = await within(5_000, bridge.post(PATH, withLoneSurrogates(text, offsets, high, chosen)));
        expect(answer.status, JSON.stringify(answer)).toBe(400);
        expect(answer.body.error?.code).toBe('LONE_SURROGATE');
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(events()).toBe(before);
  });

  it('arbitrary bytes, signed or not, with any media type: never a 500', async () => {
    const contentType = fc.constantFrom('application/json', 'application/cloudevents+json', 'text/plain', 'application/json; charset=latin1', '');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), contentType, async (bytes, sign, type) => {
        const answer = await postWebhook(bridge.url + PATH, Buffer.from(bytes), { sign, ...(type ? { contentType: type } : {}) });
        expect(answer.status).not.toBeGreaterThanOrEqual(500);
        expect(defined(answer), JSON.stringify(answer)).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('receiver fuzz: source paths in other cases', () => {
  const variant = fc
    .tuple(fc.array(fc.boolean(), { minLength: PATH.length, maxLength: PATH.length }), fc.boolean())
    .map(([upper, slash]) => `${[...PATH].map((char, index) => (upper[index] ? char.toUpperCase() : char)).join('')}${slash ? '/' : ''}`);
  const twoSources = (path: string) =>
    YAML.stringify({ sources: [{ name: 'main', path: PATH, verify: { hmac: { secrets: ['s1'] } } }, { name: 'lab', path, verify: { none: true } }] });
  let calls = 0;

  it('a case variant of a configured path, with or without a trailing slash, reaches that source, and the config refuses it as a second source', async () => {
    await fc.assert(
      fc.asyncProperty(variant, async (path) => {
        const body = audianV2Calls.initiated(`c-case-${process.pid}-${++calls}`, { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());
        const answer = await bridge.post(path, body);
        expect(answer.status, `${path}: ${JSON.stringify(answer.body)}`).toBe(200);
        expect(storedEvent(answer.body.id as string).source).toBe('audian/main');
        let refused: unknown;
        try {
          parseConfig(twoSources(path), {}, CONNECTORS);
        } catch (err) {
          refused = err;
        }
        expect(refused).toBeInstanceOf(ConfigError);
        expect((refused as ConfigError).issues.map((issue) => `${issue.path} ${issue.code}`)).toEqual(['sources[1].path CONFIG_DUPLICATE']);
      }),
      { seed: SEED, numRuns: Math.min(RUNS, 60) },
    );
  });
});
