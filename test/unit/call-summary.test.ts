import { describe, expect, it } from 'vitest';
import { normalizePayload, type CanonicalEvent } from '../../src/dialects/index.js';
import { advanceCall, enrichEvent, type CallState, type LifecycleOptions } from '../../src/lifecycle/call-state.js';
import { buildSummaryEvent, buildTranscriptEvent, dispositionOf } from '../../src/lifecycle/summary.js';
import { dedupeKeyOf } from '../../src/store/index.js';
import { audianHooksCalls, audianV2Calls, voiceCalls } from '../helpers/call-payloads.js';
import { INBOUND, SEQUENCES_BY_DIALECT, T0 } from '../helpers/call-sequences.js';

const OPTIONS: LifecycleOptions = { graceMs: 5_000, unknownDirection: 'outbound', maxCallAgeMs: 4 * 3600_000 };

/** Feeds webhook bodies, in arrival order, through normalization and the call lifecycle as the acceptor does. */
function play(bodies: readonly Record<string, unknown>[]): { state: CallState; events: CanonicalEvent[] } {
  let state: CallState | undefined;
  const events: CanonicalEvent[] = [];
  bodies.forEach((body, index) => {
    const receivedAt = T0 + 100_000 + index;
    const event = normalizePayload(body, { rawBody: Buffer.from(JSON.stringify(body)), source: 'audian/main', receivedAt });
    state = advanceCall(state, event, dedupeKeyOf(event), receivedAt, OPTIONS);
    enrichEvent(event, state);
    events.push(event);
  });
  return { state: state as CallState, events };
}

describe.each(SEQUENCES_BY_DIALECT)('%s', (calls, sequences) => {
  it.each(sequences.map((sequence) => [sequence.name, sequence] as const))('%s', (_name, sequence) => {
    const callId = `sum-${sequence.name}`;
    const bodies = sequence.bodies(calls, callId);
    const inOrder = play(bodies);
    const summary = buildSummaryEvent(inOrder.state, inOrder.events, 1)!;
    expect(summary).toMatchObject({ id: `audian/main/${callId}.summary.1`, type: 'call.summary', subject: callId, source: 'audian/main', dialect: calls.dialect });
    expect(summary.data).toMatchObject({ call_id: callId, disposition: sequence.disposition, revision: 1, direction: 'inbound', from: '+14155550100', to: '+14155550199' });
    // Its time is that of the latest event it summarizes.
    expect(summary.time).toBe(inOrder.events.map((event) => event.time).sort().at(-1));
    expect(summary.data.events).toEqual(inOrder.events.map((event) => event.id));

    // Any arrival order gives the same summary: the ending first, the start last.
    const reversed = play([...bodies].reverse());
    const again = buildSummaryEvent(reversed.state, reversed.events, 1)!;
    expect(again.data).toEqual(summary.data);
    expect(again.time).toBe(summary.time);
  });
});

describe('summary fields', () => {
  it('an answered call: times, ring and talk time, hangup cause, recording URL, tags', () => {
    const id = 'sum-fields';
    const { state, events } = play([
      audianV2Calls.ended(id, 'completed', T0 + 68_000),
      audianV2Calls.initiated(id, INBOUND, T0),
      audianV2Calls.answered(id, T0 + 8_000),
      { id: 'evt_rec', timestamp: new Date(T0 + 200_000).toISOString(), event: 'recording.completed', data: { call_id: id, recording_id: 'rec_1', download_url: 'https://api.audian.com:8443/v2/recordings/rec_1/download' } },
    ]);
    const summary = buildSummaryEvent(state, events, 2)!;
    expect(summary.id).toBe(`audian/main/${id}.summary.2`);
    expect(summary.time).toBe(new Date(T0 + 200_000).toISOString());
    expect(summary.data).toMatchObject({
      from_name: 'Jane Doe',
      started_at: new Date(T0).toISOString(),
      answered_at: new Date(T0 + 8_000).toISOString(),
      ended_at: new Date(T0 + 68_000).toISOString(),
      ring_seconds: 8,
      talk_seconds: 60,
      hangup_cause: 'normal',
      recording_urls: ['https://api.audian.com:8443/v2/recordings/rec_1/download'],
      tags: { campaign: 'spring' },
      transcript: null,
      revision: 2,
    });
    // In the order they happened, not as they arrived.
    expect(summary.data.events).toEqual(['evt_sum-fields_initiated', 'evt_sum-fields_answered', 'evt_sum-fields_completed', 'evt_rec']);
  });

  it('an unanswered call rang until its end and talked for 0 s; a hooks cause is kept as sent', () => {
    const { state, events } = play([audianHooksCalls.initiated('sum-h', INBOUND, T0), audianHooksCalls.ended('sum-h', 'no_answer', T0 + 25_000)]);
    expect(buildSummaryEvent(state, events, 1)!.data).toMatchObject({ disposition: 'missed', ring_seconds: 25, talk_seconds: 0, hangup_cause: 'NO_ANSWER', answered_at: null });
  });

  it('a call whose end never came is unknown, with what is known so far', () => {
    const { state, events } = play([audianV2Calls.initiated('sum-u', INBOUND, T0), audianV2Calls.answered('sum-u', T0 + 4_000)]);
    expect(state.summaryCheckAt).toBe(T0 + 100_000 + OPTIONS.maxCallAgeMs);
    expect(buildSummaryEvent(state, events, 1)!.data).toMatchObject({ disposition: 'unknown', ended_at: null, talk_seconds: null, started_at: new Date(T0).toISOString() });
  });

  it('an ending starts the grace wait; a later event restarts it; derived events do not', () => {
    const { state } = play([audianV2Calls.initiated('sum-g', INBOUND, T0), audianV2Calls.ended('sum-g', 'completed', T0 + 9_000)]);
    expect(state.summaryCheckAt).toBe(T0 + 100_001 + OPTIONS.graceMs);
    const summarized = { ...state, summaryRevision: 1, summaryCheckAt: undefined };
    const missedEvent = normalizePayload({ id: 'x', timestamp: new Date(T0).toISOString(), event: 'call.missed', data: { call_id: 'sum-g' } }, { rawBody: Buffer.from('{}'), source: 'audian/main', receivedAt: T0 });
    expect(advanceCall(summarized, missedEvent, 'k', T0 + 200_000, OPTIONS).summaryCheckAt).toBeUndefined();
    const late = normalizePayload({ id: 'y', timestamp: new Date(T0).toISOString(), event: 'recording.completed', data: { call_id: 'sum-g' } }, { rawBody: Buffer.from('{}'), source: 'audian/main', receivedAt: T0 });
    expect(advanceCall(summarized, late, 'k2', T0 + 200_000, OPTIONS).summaryCheckAt).toBe(T0 + 200_000 + OPTIONS.graceMs);
  });

  it('the final transcript wins over live segments; without it the live ones, in time order', () => {
    const segment = (text: string, at: number, speaker = 'customer') => ({
      event_type: 'transcript',
      timestamp_utc: Math.floor(at / 1000),
      payload: { call: { id: 'sum-t', direction: 'inbound' }, type: speaker, transcript: text },
      is_test: false,
    });
    const live = play([voiceCalls.initiated('sum-t', INBOUND, T0), segment('second', T0 + 20_000, 'ai'), segment('first', T0 + 10_000), voiceCalls.ended('sum-t', 'completed', T0 + 30_000)]);
    expect(buildTranscriptEvent(live.state, live.events, 1)!.data).toMatchObject({
      transcript_source: 'live',
      segments: [
        { speaker: 'customer', text: 'first', time: new Date(T0 + 10_000).toISOString() },
        { speaker: 'ai', text: 'second', time: new Date(T0 + 20_000).toISOString() },
      ],
    });
    const final = play([
      segment('live line', T0 + 10_000),
      voiceCalls.ended('sum-t', 'completed', T0 + 30_000, { transcript: [{ type: 'ai', message: 'Greeting message' }, { type: 'customer', message: 'customer message 1', utc_timestamp: '1760084597' }] }),
    ]);
    const transcript = buildTranscriptEvent(final.state, final.events, 1)!;
    expect(transcript.id).toBe('audian/main/sum-t.transcript.1');
    expect(transcript.data).toMatchObject({
      transcript_source: 'final',
      segments: [
        { speaker: 'ai', text: 'Greeting message', time: null },
        { speaker: 'customer', text: 'customer message 1', time: '2025-10-10T08:23:17.000Z' },
      ],
    });
    expect(buildSummaryEvent(final.state, final.events, 1)!.data.transcript).toMatchObject({ source: 'final', segments: 2 });
  });

  it('dispositions: an answer wins over a no-answer cause; a voice error before the end is a failure', () => {
    const { events } = play([audianV2Calls.answered('sum-w', T0), audianV2Calls.ended('sum-w', 'no_answer', T0 + 1_000)]);
    expect(dispositionOf(events)).toBe('answered');
    const broken = play([
      voiceCalls.initiated('sum-e', INBOUND, T0),
      { event_type: 'error', timestamp_utc: Math.floor(T0 / 1000) + 2, payload: { call: { id: 'sum-e' }, error_message: 'Error message' }, is_test: false },
      voiceCalls.ended('sum-e', 'completed', T0 + 3_000),
    ]);
    expect(dispositionOf(broken.events)).toBe('failed');
  });
});
