import { describe, expect, it } from 'vitest';
import { normalizePayload } from '../../src/dialects/index.js';
import { MAX_TYPE_LENGTH } from '../../src/dialects/common.js';
import { parseJsonBody } from '../../src/http/body.js';
import { errorCodeOf as codeOf } from '../helpers/codes.js';

const context = { source: 'audian/main', receivedAt: Date.UTC(2026, 0, 1) };
function normalize(body: Record<string, unknown>, accept?: ('audian.v2' | 'audian.hooks' | 'voice')[]) {
  const rawBody = Buffer.from(JSON.stringify(body));
  return normalizePayload(body, { ...context, rawBody, ...(accept ? { accept } : {}) });
}

describe('detection', () => {
  it('recognises each dialect by its envelope', () => {
    expect(normalize({ id: 'e', event: 'call.ringing', data: { call_id: 'c' } }).dialect).toBe('audian.v2');
    expect(normalize({ id: 'e', hook: 'channel_create', data: { call_id: 'c' } }).dialect).toBe('audian.hooks');
    expect(normalize({ event_type: 'call_ringing', payload: { call_id: 1 } }).dialect).toBe('voice');
  });
  it('refuses JSON of no dialect and restricted dialects with their codes', () => {
    expect(codeOf(() => normalize({ event: 'call.ringing' }))).toBe('UNKNOWN_DIALECT');
    expect(codeOf(() => normalize({ hook: 'channel_create' }))).toBe('UNKNOWN_DIALECT');
    expect(codeOf(() => normalizePayload([], { ...context, rawBody: Buffer.from('[]') }))).toBe('NOT_AN_OBJECT');
    expect(codeOf(() => normalize({ id: 'e', event: 'call.ringing', data: {} }, ['voice']))).toBe('DIALECT_NOT_ACCEPTED');
  });
});

describe('audian.hooks channel_destroy by hangup cause', () => {
  const destroy = (cause: string | undefined, extra: Record<string, unknown> = {}) =>
    normalize({ id: `e_${cause}`, account_id: 'acc', hook: 'channel_destroy', timestamp: '2026-02-04T10:30:00Z', data: { call_id: 'c', ...(cause ? { hangup_cause: cause } : {}), ...extra } });

  it.each([
    ['NORMAL_CLEARING', 'call.completed', {}],
    [undefined, 'call.completed', {}],
    ['ORIGINATOR_CANCEL', 'call.cancelled', { cancelled_by: 'caller' }],
    ['NO_ANSWER', 'call.failed', { reason: 'no_answer', reason_code: 408 }],
    ['USER_BUSY', 'call.failed', { reason: 'busy', reason_code: 486 }],
    ['CALL_REJECTED', 'call.failed', { reason: 'declined', reason_code: 603 }],
    ['UNALLOCATED_NUMBER', 'call.failed', { reason: 'invalid_number' }],
    ['NETWORK_OUT_OF_ORDER', 'call.failed', { reason: 'network_error' }],
    ['SOMETHING_NEW', 'call.failed', { reason: 'internal_error' }],
  ])('%s → %s', (cause, type, data) => {
    const event = destroy(cause);
    expect(event.type).toBe(type);
    expect(event.data).toMatchObject(data);
    if (cause) expect(event.data.hangup_cause).toBe(cause); // the provider's own field stays
  });

  it('renames the hooks vocabulary into audian.v2 field names and fills data.call', () => {
    const event = destroy('NORMAL_CLEARING', { caller_id_number: '+1', callee_id_number: '+2', caller_id_name: 'Ann', duration_seconds: 9, call_direction: 'inbound' });
    expect(event.data).toMatchObject({ from: '+1', to: '+2', from_name: 'Ann', duration: 9, call_type: 'inbound' });
    expect(event.data).not.toHaveProperty('caller_id_number');
    expect(event.data.call).toEqual({ id: 'c', direction: 'inbound', from: '+1', to: '+2', from_name: 'Ann', status: 'completed' });
    expect(event.account).toBe('acc');
  });

  it('maps every hook of seed 000 to its canonical type', () => {
    const types = ['channel_create', 'channel_answer', 'channel_bridge', 'object_create', 'object_update', 'object_delete'].map(
      (hook) => normalize({ id: hook, hook, timestamp: '2026-02-04T10:30:00Z', data: {} }).type,
    );
    expect(types).toEqual(['call.initiated', 'call.answered', 'call.bridged', 'object.created', 'object.updated', 'object.deleted']);
  });
});

describe('audian.v2', () => {
  it('stringifies numeric call ids, keeps unmapped fields and extra envelope keys', () => {
    const event = normalize({ id: 'e1', timestamp: '2024-01-15T10:30:00Z', event: 'call.ringing', version: 'v1', data: { call_id: 42, novel: { x: 1 } } });
    expect(event.subject).toBe('42');
    expect(event.data.call_id).toBe('42');
    expect(event.data.novel).toEqual({ x: 1 });
    expect(event.data.envelope).toEqual({ version: 'v1' });
  });
  it('normalizes unknown types to dotted lower case and still builds an event', () => {
    expect(normalize({ id: 'e', event: 'Queue.Agent_Joined', data: {} }).type).toBe('queue.agent_joined');
    expect(normalize({ id: 'e', event: 'SMS_RECEIVED', data: {} }).type).toBe('sms.received');
  });
  it('has no subject for an event that concerns no call', () => {
    expect(normalize({ id: 'e', event: 'account.updated', data: { name: 'x' } }).subject).toBeUndefined();
  });
});

describe('voice', () => {
  const body = { event_type: 'call_answered', timestamp_utc: 1760084576, payload: { call_id: 1, direction: 'inbound', from: '+9' }, is_test: false };

  it('derives a stable id from the raw body: same bytes, same id; other bytes, other id', () => {
    const raw = JSON.stringify(body);
    const a = normalizePayload(JSON.parse(raw), { ...context, rawBody: Buffer.from(raw) });
    const b = normalizePayload(JSON.parse(raw), { ...context, rawBody: Buffer.from(raw), receivedAt: context.receivedAt + 5000 });
    const c = normalizePayload(JSON.parse(raw), { ...context, rawBody: Buffer.from(`${raw} `) });
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
  });
  it('converts timestamp_utc seconds to ISO time and is_test to the test flag', () => {
    const event = normalize(body);
    expect(event.time).toBe('2025-10-10T08:22:56.000Z');
    expect(event.test).toBe(false);
    expect(normalize({ ...body, is_test: true }).test).toBe(true);
    expect(event.data.call).toMatchObject({ id: '1', direction: 'inbound', from: '+9', status: 'answered' });
  });
});

describe('prototype names', () => {
  it.each([
    ['audian.v2 event', { id: 'e', event: 'constructor', data: { call_id: 'c' } }, 'constructor'],
    ['audian.hooks hook', { id: 'e', hook: '__proto__', data: { call_id: 'c' } }, 'proto'],
    ['audian.hooks hook toString', { id: 'e', hook: 'toString', data: {} }, 'tostring'],
    ['voice event_type', { event_type: 'constructor', payload: { call_id: 1 } }, 'constructor'],
    ['voice event_type valueOf', { event_type: 'valueOf', payload: {} }, 'valueof'],
  ])('a %s named after an Object.prototype member is an unknown type, not a crash', (_name, body, type) => {
    const event = normalize(body);
    expect(event.type).toBe(type);
    if (event.data.call?.status !== undefined) expect(typeof event.data.call.status).toBe('string');
  });

  it('a channel_destroy whose cause or status is a prototype name still classifies', () => {
    const event = normalize({ id: 'e', hook: 'channel_destroy', data: { call_id: 'c', hangup_cause: 'constructor', status: 'toString' } });
    expect(event.type).toBe('call.failed');
    expect(event.data).toMatchObject({ reason: 'internal_error', reason_code: 500 });
  });

  it('payload keys named after prototype members are kept under their own name with their own value', () => {
    const hooks = normalize({ id: 'e', hook: 'channel_create', data: { call_id: 'c', toString: 'x', constructor: 1, valueOf: { a: 1 } } });
    expect(Object.entries(hooks.data).filter(([key]) => ['toString', 'constructor', 'valueOf'].includes(key))).toEqual([
      ['toString', 'x'],
      ['constructor', 1],
      ['valueOf', { a: 1 }],
    ]);
    const voice = normalize({ event_type: 'transcript', payload: { call: { id: 1, toString: 'y' }, hasOwnProperty: 2 } });
    expect(Object.hasOwn(voice.data, 'toString') && voice.data.toString).toBe('y');
    expect(Object.hasOwn(voice.data, 'hasOwnProperty') && voice.data.hasOwnProperty).toBe(2);
    expect(Object.keys(hooks.data).some((key) => key.includes('native code'))).toBe(false);
  });
});

describe('type names', () => {
  it('are cut at MAX_TYPE_LENGTH after normalization, without trailing separators', () => {
    const event = normalize({ id: 'e', event: `Call.${'x'.repeat(500)}`, data: {} });
    expect(event.type).toBe(`call.${'x'.repeat(MAX_TYPE_LENGTH - 5)}`);
    expect(normalize({ id: 'e', event: `${'a'.repeat(MAX_TYPE_LENGTH - 1)}._b`, data: {} }).type).toBe('a'.repeat(MAX_TYPE_LENGTH - 1));
  });
  it('keep the documented cleanup: runs of other characters become one "_", ends stripped, first "_" a dot', () => {
    expect(normalize({ id: 'e', event: '  --SMS  received!! ', data: {} }).type).toBe('sms.received');
    expect(normalize({ id: 'e', event: '._.a._.b._.', data: {} }).type).toBe('a._.b');
    expect(normalize({ id: 'e', event: '***', data: {} }).type).toBe('unknown');
    expect(normalize({ id: 'e', event: `a${'._'.repeat(80_000)}b`, data: {} }).type).toBe('a');
    expect(normalize({ id: 'e', event: `a${'.y'.repeat(80_000)}`, data: {} }).type).toBe(`a${'.y'.repeat((MAX_TYPE_LENGTH - 1) / 2)}`.slice(0, MAX_TYPE_LENGTH - 1));
  });
});

describe('numeric ids beyond 2^53', () => {
  const parse = (text: string) => parseJsonBody(Buffer.from(text), 32);
  const normalizeText = (text: string) => normalizePayload(parse(text), { ...context, rawBody: Buffer.from(text) });

  it('event ids keep their digits: 9007199254740993 and 9007199254740992 are two events', () => {
    const a = normalizeText('{"id": 9007199254740993, "event": "call.ringing", "data": {}}');
    const b = normalizeText('{"id": 9007199254740992, "event": "call.ringing", "data": {}}');
    expect(a.id).toBe('9007199254740993');
    expect(b.id).toBe('9007199254740992');
  });

  it('call ids keep their digits in data.call_id, data.call.id and subject, in every dialect', () => {
    const v2 = normalizeText('{"id": "e", "event": "call.ringing", "data": {"call_id": 123456789012345678901}}');
    const hooks = normalizeText('{"id": "e", "hook": "channel_create", "account_id": 98765432109876543210, "data": {"call_id": -9007199254740993}}');
    const voice = normalizeText('{"event_type": "call_ringing", "payload": {"call": {"id": 9007199254740993}}}');
    expect([v2.subject, v2.data.call_id, v2.data.call?.id]).toEqual(['123456789012345678901', '123456789012345678901', '123456789012345678901']);
    expect([hooks.subject, hooks.account]).toEqual(['-9007199254740993', '98765432109876543210']);
    expect([voice.subject, voice.data.call_id]).toEqual(['9007199254740993', '9007199254740993']);
  });

  it('elsewhere in data a big integer is a number again, and safe numbers are untouched', () => {
    const event = normalizeText('{"id": "e", "event": "call.ringing", "data": {"n": 9007199254740993, "list": [12345678901234567890, 1.5, 7], "small": 42}}');
    expect(event.data.n).toBe(9007199254740992);
    expect(event.data.list).toEqual([12345678901234567000, 1.5, 7]);
    expect(event.data.small).toBe(42);
    expect(JSON.parse(JSON.stringify(event.data))).toEqual(event.data);
  });
});
