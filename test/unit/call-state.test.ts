import { describe, expect, it } from 'vitest';
import { normalizePayload, type CanonicalEvent } from '../../src/dialects/index.js';
import {
  advanceCall,
  buildMissedEvent,
  enrichEvent,
  isMissed,
  type CallState,
  type LifecycleOptions,
} from '../../src/lifecycle/call-state.js';
import { dedupeKeyOf } from '../../src/store/index.js';
import { audianHooksCalls, audianV2Calls, CALL_PAYLOADS, voiceCalls, type CallParties, type Ending } from '../helpers/call-payloads.js';

const GRACE = 5_000;
const OPTIONS: LifecycleOptions = { graceMs: GRACE, unknownDirection: 'outbound', maxCallAgeMs: 4 * 3600_000 };
const T0 = Date.parse('2026-02-04T10:30:00Z');
const INBOUND: CallParties = { direction: 'inbound', from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199' };

interface Step {
  readonly body: Record<string, unknown>;
  /** When the bridge received it (ms). */
  readonly at: number;
}

/** Feeds webhook bodies through normalization and the lifecycle, as the acceptor does, minus the store. */
function play(steps: readonly Step[], options: LifecycleOptions = OPTIONS) {
  let state: CallState | undefined;
  const events = new Map<string, CanonicalEvent>();
  const enriched: CanonicalEvent[] = [];
  for (const step of steps) {
    const event = normalizePayload(step.body, { rawBody: Buffer.from(JSON.stringify(step.body)), source: 'audian/main', receivedAt: step.at });
    const key = dedupeKeyOf(event);
    state = advanceCall(state, event, key, step.at, options);
    enrichEvent(event, state);
    events.set(key, event);
    enriched.push(event);
  }
  if (!state) throw new Error('no steps');
  const ending = state.endEventKey ? events.get(state.endEventKey) : undefined;
  return { state, ending, enriched };
}

/** What the missed-call watcher would conclude at `at`. */
function decision(state: CallState, at: number, options: LifecycleOptions = OPTIONS): 'missed' | 'not_missed' | 'pending' {
  if (state.missed === 'emitted') return 'missed';
  if (state.missed === 'not_missed') return 'not_missed';
  if (state.missedCheckAt === undefined || state.missedCheckAt > at) return 'pending';
  return isMissed(state, options) ? 'missed' : 'not_missed';
}

const AFTER_GRACE = T0 + 60_000 + GRACE;

describe.each(CALL_PAYLOADS)('$dialect', (calls) => {
  const missable = calls.endings.filter((ending) => ['completed', 'no_answer', 'busy', 'declined', 'cancelled'].includes(ending));

  it.each(missable)('an inbound call ending %s without an answer is missed once the grace period is over', (ending) => {
    const { state } = play([
      { body: calls.initiated('c1', INBOUND, T0), at: T0 },
      { body: calls.ended('c1', ending, T0 + 20_000), at: T0 + 20_000 },
    ]);
    expect(state.missedCheckAt).toBe(T0 + 20_000 + GRACE);
    expect(decision(state, T0 + 20_000 + GRACE - 1)).toBe('pending');
    expect(decision(state, T0 + 20_000 + GRACE)).toBe('missed');
  });

  it('an answered inbound call is decided "not missed" when it ends', () => {
    const { state } = play([
      { body: calls.initiated('c2', INBOUND, T0), at: T0 },
      { body: calls.answered('c2', T0 + 5_000), at: T0 + 5_000 },
      { body: calls.ended('c2', 'completed', T0 + 60_000), at: T0 + 60_000 },
    ]);
    expect(state).toMatchObject({ answered: true, missed: 'not_missed', endReason: 'completed' });
    expect(state.missedCheckAt).toBeUndefined();
  });

  it('an outbound call nobody answered is not missed', () => {
    const { state } = play([
      { body: calls.initiated('c3', { ...INBOUND, direction: 'outbound' }, T0), at: T0 },
      { body: calls.ended('c3', calls.endings.includes('no_answer') ? 'no_answer' : 'completed', T0 + 30_000), at: T0 + 30_000 },
    ]);
    expect(decision(state, AFTER_GRACE)).toBe('not_missed');
  });

  it('an answer arriving after the end, inside the grace period, prevents the alert (out of order)', () => {
    const { state } = play([
      { body: calls.initiated('c4', INBOUND, T0), at: T0 },
      { body: calls.ended('c4', 'completed', T0 + 60_000), at: T0 + 60_000 },
      { body: calls.answered('c4', T0 + 5_000), at: T0 + 60_000 + GRACE - 1 },
    ]);
    expect(state).toMatchObject({ answered: true, missed: 'not_missed' });
    expect(state.missedCheckAt).toBeUndefined();
    expect(decision(state, AFTER_GRACE)).toBe('not_missed');
  });

  it('an initiated event arriving after the end still supplies direction, parties and ring start', () => {
    const { state, ending } = play([
      { body: calls.ended('c5', 'completed', T0 + 12_000), at: T0 + 12_000 },
      { body: calls.initiated('c5', INBOUND, T0), at: T0 + 12_100 },
    ]);
    expect(state).toMatchObject({ direction: 'inbound', from: '+14155550100', to: '+14155550199', startedAt: new Date(T0).toISOString() });
    expect(decision(state, AFTER_GRACE)).toBe('missed');
    expect(buildMissedEvent(state, ending!).data.ring_duration).toBe(12);
  });

  it('enriches a later event whose payload lacks the call fields', () => {
    const { enriched } = play([
      { body: calls.initiated('c6', INBOUND, T0), at: T0 },
      { body: calls.ended('c6', 'completed', T0 + 10_000), at: T0 + 10_000 },
    ]);
    expect(enriched[1]!.data.call).toMatchObject({ id: 'c6', direction: 'inbound', from: '+14155550100', to: '+14155550199' });
  });

  it('the derived call.missed event: id from the ending event, the call as known, deduped like any event', () => {
    const { state, ending } = play([
      { body: calls.initiated('c7', INBOUND, T0), at: T0 },
      { body: calls.ended('c7', 'completed', T0 + 15_000), at: T0 + 15_000 },
    ]);
    const missed = buildMissedEvent(state, ending!);
    expect(missed).toMatchObject({
      specversion: '1.0',
      id: `${ending!.id}.missed`,
      source: 'audian/main',
      type: 'call.missed',
      subject: 'c7',
      time: ending!.time,
      dialect: calls.dialect,
      test: false,
      data: {
        call_id: 'c7',
        from: '+14155550100',
        to: '+14155550199',
        call_type: 'inbound',
        reason: 'unanswered',
        ring_duration: 15,
        ending_event: { id: ending!.id, type: 'call.completed' },
        call: { id: 'c7', direction: 'inbound', from: '+14155550100', to: '+14155550199', status: 'missed' },
      },
    });
    // Building it twice gives the same id: the store's dedupe key makes it at most one per call.
    expect(dedupeKeyOf(buildMissedEvent(state, ending!))).toBe(dedupeKeyOf(missed));
    // Once emitted, the call is decided; a later answer or a second ending changes nothing.
    let after = advanceCall(state, missed, dedupeKeyOf(missed), T0 + 20_000, OPTIONS);
    expect(after).toMatchObject({ missed: 'emitted' });
    const late = normalizePayload(calls.answered('c7', T0 + 1_000), { rawBody: Buffer.from('late'), source: 'audian/main', receivedAt: T0 + 30_000 });
    after = advanceCall(after, late, dedupeKeyOf(late), T0 + 30_000, OPTIONS);
    expect(after.missed).toBe('emitted');
    expect(after.missedCheckAt).toBeUndefined();
  });
});

describe('unknown direction', () => {
  const steps = (calls: typeof audianHooksCalls) => [
    { body: calls.initiated('u1', { from: '+14155550100', to: '+14155550199' }, T0), at: T0 },
    { body: calls.ended('u1', 'completed', T0 + 10_000), at: T0 + 10_000 },
  ];

  it.each(CALL_PAYLOADS)('$dialect: lifecycle.unknown_direction "outbound" (the default) never alerts', (calls) => {
    const { state } = play(steps(calls));
    expect(state.direction).toBeUndefined();
    expect(decision(state, AFTER_GRACE)).toBe('not_missed');
  });

  it.each(CALL_PAYLOADS)('$dialect: lifecycle.unknown_direction "inbound" alerts, and says so in call_type', (calls) => {
    const options: LifecycleOptions = { ...OPTIONS, unknownDirection: 'inbound' };
    const { state, ending } = play(steps(calls), options);
    expect(decision(state, AFTER_GRACE, options)).toBe('missed');
    expect(buildMissedEvent(state, ending!).data).toMatchObject({ call_type: 'unknown' });
    expect(buildMissedEvent(state, ending!).data.call).not.toHaveProperty('direction');
  });

  it('a direction learnt inside the grace period counts, whatever unknown_direction says', () => {
    const { state } = play([
      { body: audianV2Calls.ended('u2', 'no_answer', T0 + 10_000), at: T0 + 10_000 },
      { body: audianV2Calls.initiated('u2', { direction: 'outbound', to: '+1' }, T0), at: T0 + 10_500 },
    ], { ...OPTIONS, unknownDirection: 'inbound' });
    expect(decision(state, AFTER_GRACE, { ...OPTIONS, unknownDirection: 'inbound' })).toBe('not_missed');
  });
});

describe('which endings count', () => {
  it.each(['invalid_number', 'network_error'] satisfies Ending[])('a failure that is not a missed call (%s) is decided at once, in audian.v2 and audian.hooks', (ending) => {
    for (const calls of [audianV2Calls, audianHooksCalls]) {
      const { state } = play([
        { body: calls.initiated('f1', INBOUND, T0), at: T0 },
        { body: calls.ended('f1', ending, T0 + 3_000), at: T0 + 3_000 },
      ]);
      expect(state.missed, calls.dialect).toBe('not_missed');
      expect(state.missedCheckAt).toBeUndefined();
    }
  });

  it('audian.v2: a call.completed that itself says it was answered (answered_at, duration_billable) is not missed', () => {
    for (const extra of [{ answered_at: new Date(T0 + 5_000).toISOString() }, { duration_billable: 42 }]) {
      const { state } = play([
        { body: audianV2Calls.initiated('a1', INBOUND, T0), at: T0 },
        { body: audianV2Calls.ended('a1', 'completed', T0 + 60_000, extra), at: T0 + 60_000 },
      ]);
      expect(state).toMatchObject({ answered: true, missed: 'not_missed' });
    }
    const { state } = play([
      { body: audianV2Calls.initiated('a2', INBOUND, T0), at: T0 },
      { body: audianV2Calls.ended('a2', 'completed', T0 + 60_000, { duration_billable: 0 }), at: T0 + 60_000 },
    ]);
    expect(decision(state, T0 + 60_000 + GRACE)).toBe('missed');
  });

  it('audian.hooks: a channel_bridge counts as an answer', () => {
    const bridge = { id: 'evt_b_bridge', account_id: 'account_test', hook: 'channel_bridge', timestamp: new Date(T0 + 3_000).toISOString(), data: { call_id: 'b1' } };
    const { state } = play([
      { body: audianHooksCalls.initiated('b1', INBOUND, T0), at: T0 },
      { body: bridge, at: T0 + 3_000 },
      { body: audianHooksCalls.ended('b1', 'completed', T0 + 9_000), at: T0 + 9_000 },
    ]);
    expect(state).toMatchObject({ answered: true, missed: 'not_missed' });
  });

  it('audian.hooks: the reason comes from the hangup cause', () => {
    const reasons = (['no_answer', 'busy', 'declined', 'cancelled'] satisfies Ending[]).map((ending) => {
      const { state, ending: event } = play([
        { body: audianHooksCalls.initiated(`h-${ending}`, INBOUND, T0), at: T0 },
        { body: audianHooksCalls.ended(`h-${ending}`, ending, T0 + 9_000), at: T0 + 9_000 },
      ]);
      return buildMissedEvent(state, event!).data.reason;
    });
    expect(reasons).toEqual(['no_answer', 'busy', 'declined', 'cancelled']);
  });

  it('the first ending event wins; a second one neither re-arms nor changes the reason', () => {
    const { state } = play([
      { body: audianV2Calls.initiated('e1', INBOUND, T0), at: T0 },
      { body: audianV2Calls.ended('e1', 'busy', T0 + 4_000), at: T0 + 4_000 },
      { body: audianV2Calls.ended('e1', 'completed', T0 + 5_000), at: T0 + 5_000 },
    ]);
    expect(state).toMatchObject({ endReason: 'busy', missedCheckAt: T0 + 4_000 + GRACE });
  });

  it('ring time falls back to the ending event\'s duration when no initiated or ringing event was seen', () => {
    const { state, ending } = play([{ body: audianV2Calls.ended('r1', 'no_answer', T0 + 10_000, { duration: 10, call_type: 'inbound' }), at: T0 + 10_000 }]);
    expect(buildMissedEvent(state, ending!).data).toMatchObject({ ring_duration: 10, reason: 'no_answer', call_type: 'inbound' });
  });

  it('voice: the numeric call id of seed 004 becomes a string subject', () => {
    const body = voiceCalls.initiated('x', INBOUND, T0);
    (body.payload as Record<string, unknown>).call_id = 7;
    const { state } = play([
      { body, at: T0 },
      { body: { event_type: 'call_ended', timestamp_utc: (T0 + 9_000) / 1000, payload: { call_id: 7, transcript: [] }, is_test: false }, at: T0 + 9_000 },
    ]);
    expect(state).toMatchObject({ callId: '7', direction: 'inbound' });
    expect(decision(state, AFTER_GRACE)).toBe('missed');
  });
});
