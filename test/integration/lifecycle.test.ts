import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { baseConfig, postWebhook, readEvents, startBridge, startServiceWithDb, type ServiceWithDb, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls, CALL_PAYLOADS } from '../helpers/call-payloads.js';
import { waitFor } from '../helpers/wait.js';

/** The call lifecycle through the running bridge, seen in the canonical events the file connector writes. */
const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLER = { direction: 'inbound' as const, from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199' };

describe('enrichment and the derived call.missed event', () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    bridge = await startBridge();
  });
  afterAll(() => bridge.stop());

  const events = () => readEvents(join(bridge.dir, 'events.jsonl'));

  it.each(CALL_PAYLOADS)('$dialect: the ending event gets data.call from the initiated one; one call.missed follows', async (calls) => {
    const callId = `lc-${calls.dialect.replace('.', '-')}`;
    const ended = calls.ended(callId, 'completed', T0 + 30_000);
    for (const body of [calls.initiated(callId, CALLER, T0), ended, ended]) expect((await bridge.post(PATH, body)).status).toBe(200);

    const missed = await waitFor(() => events().find((event) => event.subject === callId && event.type === 'call.missed'), { what: `call.missed for ${callId}` });
    const ending = events().find((event) => event.subject === callId && event.type === 'call.completed')!;
    expect(ending.data.call).toMatchObject({ id: callId, direction: 'inbound', from: '+14155550100', to: '+14155550199' });
    expect(missed).toMatchObject({ id: `${ending.id}.missed`, dialect: calls.dialect, data: { call_type: 'inbound', reason: 'unanswered', ring_duration: 30 } });
    // Deduped like any event: the retried ending added nothing, and a second decision cannot happen.
    const row = bridge.db.prepare('SELECT missed, missed_check_at AS checkAt FROM calls WHERE call_id = ?').get(callId);
    expect(row).toEqual({ missed: 'emitted', checkAt: null });
    // The call's summary (call-summary.test.ts) comes on its own time; the call's other events are exactly these.
    const types = events().filter((event) => event.subject === callId && event.type !== 'call.summary').map((event) => event.type);
    expect(types).toEqual(['call.initiated', 'call.completed', 'call.missed']);
  });
});

describe('a pending decision survives a restart', () => {
  let dir: string;
  let service: ServiceWithDb | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-lifecycle-'));
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(grace: string): Promise<ServiceWithDb> {
    const config = baseConfig(dir, { lifecycle: { missed_call_grace: grace } });
    service = await startServiceWithDb(parseConfig(YAML.stringify(config), {}, CONNECTORS));
    return service;
  }

  it('a call that ended before the stop is decided by the next process', async () => {
    // A grace period far longer than the test: the decision cannot happen in the first process.
    const first = await start('1h');
    for (const body of [audianV2Calls.initiated('lc-restart', CALLER, T0), audianV2Calls.ended('lc-restart', 'cancelled', T0 + 7_000)]) {
      expect((await postWebhook(`${first.url}${PATH}`, body)).status).toBe(200);
    }
    const pending = first.db.prepare('SELECT missed, missed_check_at AS checkAt FROM calls WHERE call_id = ?').get('lc-restart') as { missed: null; checkAt: number };
    expect(pending.missed).toBeNull();
    // Pull the stored check forward, as if the hour had passed while the bridge was down.
    first.db.prepare('UPDATE calls SET missed_check_at = ? WHERE call_id = ?').run(Date.now(), 'lc-restart');
    await first.stop();
    service = undefined;

    const second = await start('1h');
    const missed = await waitFor(() => readEvents(join(dir, 'events.jsonl')).find((event) => event.subject === 'lc-restart' && event.type === 'call.missed'), { what: 'call.missed after the restart' });
    expect(missed.data).toMatchObject({ reason: 'cancelled', ring_duration: 7, call_type: 'inbound' });
    expect(second.db.prepare('SELECT missed FROM calls WHERE call_id = ?').get('lc-restart')).toEqual({ missed: 'emitted' });
  });
});
