import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pino } from 'pino';
import { kafkaConnector, kafkaSchema } from '../../connectors/kafka/index.js';
import type { Delivery } from '../../src/sdk/index.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { baseConfig, readEvents, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createTopics, deleteCreatedTopics, eventsOf, listTopics, readTopics, uniqueName, type ReadMessage } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

// Against the broker of test/setup/kafka.ts, or the cluster KAFKA_BROKERS names.
const kafka = inject('kafka');
const brokers = kafka.brokers ?? '';

let clock = Date.UTC(2026, 0, 1);
/** An `audian.v2` webhook about a call; ids are unique per run. */
function callWebhook(type: string, callId: string, data: Record<string, unknown> = {}, id = uniqueName('evt')) {
  clock += 1000;
  return { id, timestamp: new Date(clock).toISOString(), event: type, data: { call_id: callId, direction: 'outbound', from: '+15550100', to: '+15550199', ...data } };
}

async function postAll(bridge: TestBridge, bodies: readonly unknown[]): Promise<void> {
  for (const body of bodies) {
    const res = await bridge.post('/webhooks/audian', body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

/** A canonical `call.held` event of `callId`, as a connector gets it; ids are unique per run. */
function heldEvent(callId: string, data: Record<string, unknown>): CanonicalEvent {
  return {
    specversion: '1.0',
    id: uniqueName('evt'),
    source: 'audian/main',
    type: 'call.held',
    subject: callId,
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data,
  };
}

function byId(messages: readonly ReadMessage[], id: string, field: 'value' | 'ce_id' = 'value'): ReadMessage {
  const found = messages.find((message) => (field === 'value' ? (JSON.parse(message.value ?? '{}') as { id?: string }).id === id : message.headers.ce_id === id));
  if (!found) throw new Error(`no message for event ${id}`);
  return found;
}

describe.skipIf(kafka.brokers === null)(`kafka connector against a real broker${kafka.skipReason ? ` — SKIPPED: ${kafka.skipReason}` : ''}`, () => {
  afterAll(() => deleteCreatedTopics(brokers));

  describe('message format', () => {
    const prefix = uniqueName('fmt');
    let bridge: TestBridge;
    const ringing = callWebhook('call.ringing', 'call-fmt-1', { from_name: 'Ada' });
    const answered = { ...callWebhook('call.answered', 'call-fmt-1'), account_id: 'acct-7', is_test: true };
    const object = { id: uniqueName('evt'), timestamp: '2026-02-01T10:00:00Z', event: 'object.created', data: { object_id: 'o-1', kind: 'contact' } };

    beforeAll(async () => {
      await createTopics(brokers, [`${prefix}.call.ringing`, `${prefix}.call.answered`, `${prefix}.object.created`, `${prefix}-binary`]);
      bridge = await startBridge((dir) =>
        baseConfig(dir, {
          connectors: {
            events: { type: 'file', path: join(dir, 'events.jsonl') },
            structured: { type: 'kafka', brokers, topic: `${prefix}.{type}` },
            binary: { type: 'kafka', brokers: brokers.split(','), topic: `${prefix}-binary`, mode: 'binary', compression: 'gzip', client_id: 'bridge-binary' },
          },
          routes: [{ name: 'all', to: ['events', 'structured', 'binary'] }],
        }),
      );
      await postAll(bridge, [ringing, answered, object]);
    });
    afterAll(() => bridge?.stop());

    it('structured mode: the canonical event as value, the call id as key, the CloudEvents content type, one topic per type', async () => {
      const messages = await readTopics(brokers, [`${prefix}.call.ringing`, `${prefix}.call.answered`, `${prefix}.object.created`], (seen) => seen.length >= 3, { what: '3 structured messages' });
      const canonical = readEvents(join(bridge.dir, 'events.jsonl'));
      expect(canonical).toHaveLength(3);
      expect(messages).toHaveLength(3);
      for (const event of canonical) {
        const message = byId(messages, event.id);
        expect(message.topic).toBe(`${prefix}.${event.type}`);
        expect(JSON.parse(message.value!)).toEqual(event);
        expect(message.headers).toEqual({ 'content-type': 'application/cloudevents+json; charset=UTF-8' });
      }
      expect(byId(messages, ringing.id).key).toBe('call-fmt-1');
      expect(byId(messages, answered.id).key).toBe('call-fmt-1');
      // No call, no subject: keyed by the event id.
      expect(byId(messages, object.id).key).toBe(object.id);
    });

    it('binary mode: data as value, attributes and extensions as ce_ headers, content-type from datacontenttype', async () => {
      const messages = await readTopics(brokers, [`${prefix}-binary`], (seen) => seen.length >= 3, { what: '3 binary messages' });
      const canonical = readEvents(join(bridge.dir, 'events.jsonl'));
      expect(messages).toHaveLength(3);
      for (const event of canonical) {
        const message = byId(messages, event.id, 'ce_id');
        expect(JSON.parse(message.value!)).toEqual(event.data);
        expect(message.key).toBe(event.subject ?? event.id);
        expect(message.headers).toEqual({
          ce_specversion: '1.0',
          ce_id: event.id,
          ce_source: 'audian/main',
          ce_type: event.type,
          ...(event.subject ? { ce_subject: event.subject } : {}),
          ce_time: event.time,
          ce_dialect: 'audian.v2',
          ce_test: String(event.test),
          ...(event.account ? { ce_account: event.account } : {}),
          'content-type': 'application/json',
        });
      }
      const withExtensions = byId(messages, answered.id, 'ce_id');
      expect(withExtensions.headers).toMatchObject({ ce_type: 'call.answered', ce_subject: 'call-fmt-1', ce_account: 'acct-7', ce_test: 'true' });
      expect(withExtensions.headers).not.toHaveProperty('ce_data');
      expect(withExtensions.headers).not.toHaveProperty('ce_datacontenttype');
    });
  });

  it('keeps per-call order for interleaved calls, each call in one partition', async () => {
    const topic = uniqueName('order');
    await createTopics(brokers, [topic], { partitions: 3 });
    const bridge = await startBridge((dir) =>
      baseConfig(dir, {
        connectors: { kafka: { type: 'kafka', brokers, topic } },
        routes: [{ name: 'all', to: 'kafka' }],
      }),
    );
    try {
      const calls = Array.from({ length: 6 }, (_, index) => `call-order-${index}-${uniqueName('c')}`);
      const perCall = 25;
      // Calls post concurrently, each its own events in sequence: the bridge
      // accepts them interleaved, and each call's acceptance order is known.
      await Promise.all(
        calls.map((call) =>
          postAll(
            bridge,
            Array.from({ length: perCall }, (_, seq) => callWebhook(seq % 2 === 0 ? 'call.held' : 'call.resumed', call, { seq })),
          ),
        ),
      );
      const total = calls.length * perCall;
      const messages = await readTopics(brokers, [topic], (seen) => seen.length >= total, { timeoutMs: 30_000, what: `${total} messages` });
      expect(messages).toHaveLength(total);
      messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      for (const call of calls) {
        const mine = messages.filter((message) => message.key === call);
        expect(new Set(mine.map((message) => message.partition)).size, `partitions of ${call}`).toBe(1);
        const seqs = eventsOf(mine).map((event) => (event.data as { seq: number }).seq);
        expect(seqs, `order of ${call}`).toEqual(Array.from({ length: perCall }, (_, seq) => seq));
      }
      expect(await bridge.store.list({ status: 'delivered', limit: 1000 })).toHaveLength(total);
    } finally {
      await bridge.stop();
    }
  });

  it('dead-letters the deliveries to a missing topic (auto-create off) and delivers the others', async () => {
    const prefix = uniqueName('missing');
    await createTopics(brokers, [`${prefix}.call.initiated`, `${prefix}.call.answered`]);
    const bridge = await startBridge((dir) =>
      baseConfig(dir, {
        connectors: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{type}`, allow_auto_topic_creation: false } },
        routes: [{ name: 'all', to: 'kafka' }],
      }),
    );
    try {
      const calls = ['a', 'b', 'c'].map((name) => `call-missing-${name}`);
      const bodies = calls.flatMap((call) => [callWebhook('call.initiated', call), callWebhook('call.ringing', call), callWebhook('call.answered', call)]);
      await Promise.all(calls.map((call) => postAll(bridge, bodies.filter((body) => body.data.call_id === call))));

      const records = await waitFor(
        async () => {
          const list = await bridge.store.list({ limit: 100 });
          return list.length === bodies.length && list.every((record) => record.status !== 'pending') && list;
        },
        { timeoutMs: 20_000, what: 'every delivery delivered or dead' },
      );
      const dead = records.filter((record) => record.status === 'dead');
      expect(dead.map((record) => record.type).sort()).toEqual(['call.ringing', 'call.ringing', 'call.ringing']);
      for (const record of dead) {
        expect(record.lastError).toContain(`topic "${prefix}.call.ringing"`);
        expect(record.lastError).toContain('UNKNOWN_TOPIC_OR_PARTITION');
        // Permanent: dead at the first try, not after the retries ran out.
        expect(record.attempts).toBe(1);
      }
      expect(records.filter((record) => record.status === 'delivered')).toHaveLength(6);

      const messages = await readTopics(brokers, [`${prefix}.call.initiated`, `${prefix}.call.answered`], (seen) => seen.length >= 6, { what: 'the 6 deliverable events' });
      expect(new Set(eventsOf(messages).map((event) => event.id))).toEqual(new Set(bodies.filter((body) => body.event !== 'call.ringing').map((body) => body.id)));
      // The connector asked the broker not to create the topic, and it did not.
      expect(await listTopics(brokers)).not.toContain(`${prefix}.call.ringing`);
    } finally {
      await bridge.stop();
    }
  });

  it('maps each failure of one batch to its own deliveries: missing topic, oversized message, and the rest delivered', async () => {
    const prefix = uniqueName('batch');
    await createTopics(brokers, [`${prefix}-ok`]);
    await createTopics(brokers, [`${prefix}-small`], { partitions: 1, config: { 'max.message.bytes': '4096' } });
    const options = kafkaSchema.parse({ type: 'kafka', brokers, topic: '{data.topic}', allow_auto_topic_creation: false });
    const connector = kafkaConnector.create('batch', options, { logger: pino({ level: 'silent' }), fetch, now: Date.now });
    const event = (topic: string, size = 0): CanonicalEvent => heldEvent(uniqueName('call'), { topic, padding: 'x'.repeat(size) });
    const events = [event(`${prefix}-ok`), event(`${prefix}-small`, 8_000), event(`${prefix}-absent`), event(`${prefix}-small`), event(`${prefix}-ok`)];
    const batch: Delivery[] = events.map((e, index) => ({ id: index + 1, route: 'all', attempt: 1, event: e }));
    try {
      await connector.start();
      const results = await connector.send(batch, AbortSignal.timeout(20_000));
      expect(results[0]).toEqual({ ok: true });
      expect(results[1]).toMatchObject({ ok: false, retriable: false, error: expect.stringContaining('MESSAGE_TOO_LARGE') });
      expect(results[2]).toMatchObject({ ok: false, retriable: false, error: expect.stringContaining('UNKNOWN_TOPIC_OR_PARTITION') });
      expect(results[3]).toEqual({ ok: true });
      expect(results[4]).toEqual({ ok: true });

      // What was reported sent is in the topics (at least once: a request that
      // failed for one partition may have written the others, sent again).
      const messages = await readTopics(brokers, [`${prefix}-ok`, `${prefix}-small`], (seen) => new Set(eventsOf(seen).map((e) => e.id)).size >= 3, { what: 'the 3 sent events' });
      expect(new Set(eventsOf(messages).map((e) => e.id))).toEqual(new Set([events[0]!.id, events[3]!.id, events[4]!.id]));

      // The connector is still healthy after the failures.
      const after = event(`${prefix}-ok`);
      expect(await connector.send([{ id: 99, route: 'all', attempt: 1, event: after }], AbortSignal.timeout(20_000))).toEqual([{ ok: true }]);
    } finally {
      await connector.stop();
    }
  });

  it('sends a full batch of the default options, more than one request carries, each record once and in order per call', async () => {
    const topic = uniqueName('full');
    await createTopics(brokers, [topic], { partitions: 3 });
    const options = kafkaSchema.parse({ type: 'kafka', brokers, topic });
    const connector = kafkaConnector.create('full', options, { logger: pino({ level: 'silent' }), fetch, now: Date.now });
    const calls = Array.from({ length: 5 }, () => uniqueName('call'));
    const batch: Delivery[] = Array.from({ length: kafkaConnector.batchSize }, (_, index) => ({
      id: index + 1,
      route: 'all',
      attempt: 1,
      event: heldEvent(calls[index % calls.length]!, { seq: Math.floor(index / calls.length), padding: 'x'.repeat(1000) }),
    }));
    const bytes = batch.reduce((sum, delivery) => sum + JSON.stringify(delivery.event).length, 0);
    expect(bytes, 'more than one request of max_message_bytes').toBeGreaterThan(options.max_message_bytes);
    try {
      await connector.start();
      const results = await connector.send(batch, AbortSignal.timeout(60_000));
      expect(results.filter((result) => !result.ok)).toEqual([]);
      expect(results).toHaveLength(batch.length);

      const messages = await readTopics(brokers, [topic], (seen) => seen.length >= batch.length, { timeoutMs: 30_000, what: `${batch.length} messages` });
      expect(messages).toHaveLength(batch.length);
      messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      for (const call of calls) {
        const mine = eventsOf(messages.filter((message) => message.key === call));
        const expected = batch.filter((delivery) => delivery.event.subject === call).map((delivery) => delivery.event.id);
        expect(mine.map((event) => event.id), `order of ${call}`).toEqual(expected);
      }
    } finally {
      await connector.stop();
    }
  });
});
