import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { baseConfig, postWebhook, readEvents, startBridge, startServiceWithDb, type ServiceWithDb, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls, CALL_PAYLOADS } from '../helpers/call-payloads.js';
import { SEQUENCES_BY_DIALECT } from '../helpers/call-sequences.js';
import { waitFor } from '../helpers/wait.js';

/** `call.summary` through the running bridge, seen in the canonical events the file connector writes. */
const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLER = { direction: 'inbound' as const, from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199' };

describe('call.summary through the bridge', () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    // The grace counts from a call's latest event: long enough that a loaded machine posts a call's events within it.
    bridge = await startBridge((dir) => baseConfig(dir, { lifecycle: { missed_call_grace: '1s', max_call_age: '3s', transcript_event: true } }));
  });
  afterAll(() => bridge.stop());

  const events = () => readEvents(join(bridge.dir, 'events.jsonl'));
  const summaries = (callId: string) => events().filter((event) => event.subject === callId && event.type === 'call.summary');

  it.each(CALL_PAYLOADS)('$dialect: an answered call arriving out of order gets one summary', async (calls) => {
    const callId = `sum-${calls.dialect.replace('.', '-')}`;
    // The ending first, the start last.
    const bodies = [calls.ended(callId, 'completed', T0 + 65_000), calls.answered(callId, T0 + 5_000), calls.initiated(callId, CALLER, T0)];
    for (const body of bodies) expect((await bridge.post(PATH, body)).status).toBe(200);

    const [summary] = await waitFor(() => summaries(callId).length > 0 && summaries(callId), { what: `call.summary for ${callId}` });
    expect(summary).toMatchObject({ id: `audian/main/${callId}.summary.1`, dialect: calls.dialect, time: new Date(T0 + 65_000).toISOString() });
    expect(summary!.data).toMatchObject({ disposition: 'answered', direction: 'inbound', from: '+14155550100', ring_seconds: 5, talk_seconds: 60, revision: 1 });
    expect(summary!.data.events).toHaveLength(3);
    // Answered: no call.missed; and the summary came once, routed like any event.
    expect(events().filter((event) => event.subject === callId && event.type === 'call.missed')).toEqual([]);
    const rows = await bridge.store.list({ limit: 1000 });
    expect(rows.filter((row) => row.eventId === summary!.id)).toHaveLength(1);
  });

  describe.each(SEQUENCES_BY_DIALECT)('%s, every event in reverse order', (calls, sequences) => {
    it.each(sequences.map((sequence) => [sequence.name, sequence] as const))('%s', async (name, sequence) => {
      const callId = `seq-${calls.dialect.replace('.', '-')}-${name}`;
      const bodies = sequence.bodies(calls, callId);
      for (const body of [...bodies].reverse()) expect((await bridge.post(PATH, body)).status).toBe(200);
      const [summary] = await waitFor(() => summaries(callId).length > 0 && summaries(callId), { what: `call.summary for ${callId}` });
      expect(summary!.data).toMatchObject({ disposition: sequence.disposition, revision: 1, direction: 'inbound' });
      expect(summary!.data.events).toHaveLength(bodies.length);
    });
  });

  it('a late recording yields revision 2, with its URL; the first revision stays as it was', async () => {
    const callId = 'sum-late';
    for (const body of [audianV2Calls.initiated(callId, CALLER, T0), audianV2Calls.ended(callId, 'no_answer', T0 + 20_000)]) {
      expect((await bridge.post(PATH, body)).status).toBe(200);
    }
    await waitFor(() => summaries(callId).length === 1, { what: 'revision 1' });
    const recording = { id: 'evt_sum_late_rec', timestamp: new Date(T0 + 300_000).toISOString(), event: 'recording.completed', data: { call_id: callId, recording_id: 'rec_late', download_url: 'https://api.audian.com:8443/v2/recordings/rec_late/download' } };
    expect((await bridge.post(PATH, recording)).status).toBe(200);
    const both = await waitFor(() => summaries(callId).length === 2 && summaries(callId), { what: 'revision 2' });
    expect(both.map((event) => [event.id, event.data.revision, event.data.disposition])).toEqual([
      [`audian/main/${callId}.summary.1`, 1, 'missed'],
      [`audian/main/${callId}.summary.2`, 2, 'missed'],
    ]);
    expect(both[0]!.data.recording_urls).toEqual([]);
    expect(both[1]!.data.recording_urls).toEqual(['https://api.audian.com:8443/v2/recordings/rec_late/download']);
    expect(both[1]!.time).toBe(new Date(T0 + 300_000).toISOString());
    // A retried recording webhook is a duplicate: no revision 3.
    expect((await bridge.post(PATH, recording)).body.duplicate).toBe(true);
    const row = bridge.db.prepare('SELECT summary_revision AS revision, summary_check_at AS checkAt FROM calls WHERE call_id = ?').get(callId);
    expect(row).toEqual({ revision: 2, checkAt: null });
  });

  it('a call whose end never arrives is summarized as unknown after max_call_age', async () => {
    const callId = 'sum-endless';
    expect((await bridge.post(PATH, audianV2Calls.initiated(callId, CALLER, T0))).status).toBe(200);
    const [summary] = await waitFor(() => summaries(callId).length > 0 && summaries(callId), { what: 'the unknown summary', timeoutMs: 10_000 });
    expect(summary!.data).toMatchObject({ disposition: 'unknown', ended_at: null, revision: 1 });
  });

  it('transcript.completed (lifecycle.transcript_event) goes out beside the summary of a call with a transcript', async () => {
    const callId = 'sum-transcript';
    const segment = (text: string, at: number) => ({ event_type: 'transcript', timestamp_utc: Math.floor(at / 1000), payload: { call: { id: callId }, type: 'customer', transcript: text }, is_test: false });
    for (const body of [segment('hello', T0 + 1_000), segment('bye', T0 + 2_000), { event_type: 'call_ended', timestamp_utc: Math.floor(T0 / 1000) + 3, payload: { call_id: callId }, is_test: false }]) {
      expect((await bridge.post(PATH, body)).status).toBe(200);
    }
    await waitFor(() => summaries(callId).length > 0, { what: 'the summary' });
    const [transcript] = events().filter((event) => event.subject === callId && event.type === 'transcript.completed');
    expect(transcript).toMatchObject({ id: `audian/main/${callId}.transcript.1`, data: { transcript_source: 'live', segments: [{ text: 'hello' }, { text: 'bye' }] } });
  });
});

describe('exactly one summary across a restart between the end and the summary', () => {
  let dir: string;
  let service: ServiceWithDb | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-summary-'));
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<ServiceWithDb> {
    // A grace period far longer than the test: nothing is summarized unless the stored check is pulled forward.
    const config = baseConfig(dir, { lifecycle: { missed_call_grace: '1h' } });
    service = await startServiceWithDb(parseConfig(YAML.stringify(config), {}, CONNECTORS));
    return service;
  }
  const summaries = () => readEvents(join(dir, 'events.jsonl')).filter((event) => event.subject === 'sum-restart' && event.type === 'call.summary');

  it('the next process emits the summary once, and a third one emits nothing more', async () => {
    const first = await start();
    for (const body of [audianV2Calls.initiated('sum-restart', CALLER, T0), audianV2Calls.ended('sum-restart', 'busy', T0 + 4_000)]) {
      expect((await postWebhook(`${first.url}${PATH}`, body)).status).toBe(200);
    }
    const pending = first.db.prepare('SELECT summary_check_at AS checkAt, summary_revision AS revision FROM calls WHERE call_id = ?').get('sum-restart') as { checkAt: number; revision: null };
    expect(pending.revision).toBeNull();
    expect(pending.checkAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    // As if the hour had passed while the bridge was down.
    first.db.prepare('UPDATE calls SET summary_check_at = ? WHERE call_id = ?').run(Date.now(), 'sum-restart');
    await first.stop();
    service = undefined;
    expect(summaries()).toEqual([]);

    const second = await start();
    const [summary] = await waitFor(() => summaries().length > 0 && summaries(), { what: 'the summary after the restart' });
    expect(summary!.data).toMatchObject({ disposition: 'busy', hangup_cause: 'busy', revision: 1 });
    // Asking again, as a second process would, finds nothing due.
    expect(await second.store.decideSummary({ source: 'audian/main', callId: 'sum-restart' }, Date.now() + 2 * 3600_000, () => {
      throw new Error('the verdict must not run for a summary already taken');
    })).toEqual({ outcome: 'not_due' });
    await second.stop();
    service = undefined;

    const third = await start();
    expect(await third.store.dueSummaries(Date.now() + 2 * 3600_000, 10)).toEqual([]);
    expect(summaries()).toHaveLength(1);
  });
});
