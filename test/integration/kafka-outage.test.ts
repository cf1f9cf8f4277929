import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseConfig, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createTopics, eventsOf, listTopics, readTopics, startOwnBroker, uniqueName, type OwnBroker } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

// These tests stop and restart a broker, so they run one of their own
// (scripts/kafka.sh on free ports, auto-create off) and leave the shared one alone.
const kafka = inject('kafka');
const skipReason = kafka.ownBrokerSkipReason;

let clock = Date.UTC(2026, 0, 1);
function callWebhook(type: string, callId: string, data: Record<string, unknown> = {}) {
  clock += 1000;
  return { id: uniqueName('evt'), timestamp: new Date(clock).toISOString(), event: type, data: { call_id: callId, direction: 'outbound', from: '+15550100', to: '+15550199', ...data } };
}

/** Dispatch settings for an outage: retries never run out, and come often. */
const dispatch = { retry_initial: '50ms', retry_max: '1s', poll_interval: '100ms', max_attempts: 1000 };

describe.skipIf(skipReason !== null)(`kafka connector, broker of its own${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  let broker: OwnBroker;
  beforeAll(async () => {
    broker = await startOwnBroker({ autoCreate: false });
  }, 120_000);
  afterAll(() => broker?.destroy(), 60_000);

  it('dead-letters the deliveries to a topic the broker will not create, and delivers the others', async () => {
    const prefix = uniqueName('noauto');
    await createTopics(broker.brokers, [`${prefix}.call.initiated`, `${prefix}.call.completed`]);
    // The connector allows auto-creation; the broker (auto.create.topics.enable=false) refuses it.
    const bridge = await startBridge((dir) =>
      baseConfig(dir, {
        connectors: { kafka: { type: 'kafka', brokers: broker.brokers, topic: `${prefix}.{type}` } },
        // The webhooks' own types only: the calls' derived call.summary would go to a topic nobody created too.
        routes: [{ name: 'all', match: { type: ['call.initiated', 'call.answered', 'call.completed'] }, to: 'kafka' }],
      }),
    );
    try {
      const bodies = ['x', 'y'].flatMap((call) => [callWebhook('call.initiated', call), callWebhook('call.answered', call), callWebhook('call.completed', call)]);
      for (const body of bodies) expect((await bridge.post('/webhooks/audian', body)).status).toBe(200);
      const records = await waitFor(
        async () => {
          const list = await bridge.store.list({ limit: 100 });
          return list.length === bodies.length && list.every((record) => record.status !== 'pending') && list;
        },
        { timeoutMs: 20_000, what: 'every delivery delivered or dead' },
      );
      expect(records.filter((record) => record.status === 'dead').map((record) => [record.type, record.attempts])).toEqual([
        ['call.answered', 1],
        ['call.answered', 1],
      ]);
      for (const record of records.filter((r) => r.status === 'dead')) expect(record.lastError).toMatch(/UNKNOWN_TOPIC_OR_PARTITION.*create the topic/);
      const messages = await readTopics(broker.brokers, [`${prefix}.call.initiated`, `${prefix}.call.completed`], (seen) => seen.length >= 4, { what: '4 events' });
      expect(new Set(eventsOf(messages).map((event) => event.id))).toEqual(new Set(bodies.filter((body) => body.event !== 'call.answered').map((body) => body.id)));
      expect(await listTopics(broker.brokers)).not.toContain(`${prefix}.call.answered`);
    } finally {
      await bridge.stop();
    }
  });

  it('keeps accepting webhooks while the broker is down, and delivers every one, in order per call, once it is back', async () => {
    const topic = uniqueName('outage');
    await createTopics(broker.brokers, [topic], { partitions: 3 });
    const bridge: TestBridge = await startBridge((dir) =>
      baseConfig(dir, {
        dispatch,
        connectors: { kafka: { type: 'kafka', brokers: broker.brokers, topic, connection_timeout: '1s', request_timeout: '3s' } },
        routes: [{ name: 'all', to: 'kafka' }],
      }),
    );
    const calls = Array.from({ length: 4 }, (_, index) => `call-outage-${index}`);
    const accepted: { id: string; call: string; seq: number }[] = [];
    const next = new Map(calls.map((call) => [call, 0]));
    /** One round: the next event of every call, posted concurrently; each must be accepted. */
    const round = async () => {
      await Promise.all(
        calls.map(async (call) => {
          const seq = next.get(call)!;
          next.set(call, seq + 1);
          const body = callWebhook(seq % 2 === 0 ? 'call.held' : 'call.resumed', call, { seq });
          const res = await bridge.post('/webhooks/audian', body);
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          accepted.push({ id: body.id, call, seq });
        }),
      );
    };
    const delivered = async () => (await bridge.store.list({ status: 'delivered', limit: 10_000 })).length;
    try {
      // Up: flowing.
      for (let i = 0; i < 3; i++) await round();
      await waitFor(async () => (await delivered()) === accepted.length, { what: 'deliveries before the outage' });

      // Going down while webhooks keep arriving.
      let down = false;
      const stopping = broker.stop().then(() => {
        down = true;
      });
      for (let i = 0; i < 40 && !down; i++) await round();
      await stopping;
      // Down: still accepting; deliveries wait, held while the connector is down.
      for (let i = 0; i < 5; i++) await round();
      await waitFor(
        async () => (await bridge.store.list({ status: 'pending', limit: 10_000 })).some((record) => record.lastError !== null),
        { timeoutMs: 15_000, what: 'a failed send while the broker is down' },
      );
      const waiting = await bridge.store.list({ status: 'pending', limit: 10_000 });
      expect(waiting.length).toBeGreaterThanOrEqual(calls.length * 5);
      expect(await bridge.store.list({ status: 'dead', limit: 10 })).toEqual([]);
      const readyz = await fetch(`${bridge.url}/readyz`);
      expect(readyz.status).toBe(200);

      // Back: everything flows, and the webhooks that arrive meanwhile too.
      await broker.restart();
      await round();
      await waitFor(async () => (await delivered()) === accepted.length, { timeoutMs: 30_000, what: `all ${accepted.length} deliveries delivered after the restart` });
      expect(await bridge.store.list({ status: 'dead', limit: 10 })).toEqual([]);

      const messages = await readTopics(broker.brokers, [topic], (seen) => new Set(eventsOf(seen).map((event) => event.id)).size >= accepted.length, {
        timeoutMs: 30_000,
        what: `all ${accepted.length} events`,
      });
      messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      const ids = new Set(eventsOf(messages).map((event) => event.id));
      expect(accepted.filter((event) => !ids.has(event.id))).toEqual([]);
      for (const call of calls) {
        const mine = messages.filter((message) => message.key === call);
        expect(new Set(mine.map((message) => message.partition)).size, `partitions of ${call}`).toBe(1);
        // At-least-once: a message the broker wrote just before it went down
        // may come again. Each event's first copy must come in the order the
        // bridge accepted it.
        const firsts: number[] = [];
        for (const event of eventsOf(mine)) {
          const seq = (event.data as { seq: number }).seq;
          if (!firsts.includes(seq)) firsts.push(seq);
        }
        expect(firsts, `order of ${call}`).toEqual(Array.from({ length: next.get(call)! }, (_, seq) => seq));
      }
    } finally {
      await bridge.stop();
    }
  }, 120_000);

  it('the broker SIGKILLed: the connector is down and its deliveries wait, spending nothing; restarted: up, and every one delivered', async () => {
    const topic = uniqueName('killed');
    await createTopics(broker.brokers, [topic]);
    // The default retry schedule (5 s, 30 s, ...): what comes back fast is the probe, not a retry.
    const bridge: TestBridge = await startBridge((dir) =>
      baseConfig(dir, {
        connectors: { kafka: { type: 'kafka', brokers: broker.brokers, topic, connection_timeout: '1s', request_timeout: '3s' } },
        routes: [{ name: 'all', to: 'kafka' }],
      }),
    );
    const posted: string[] = [];
    const post = async (call: string) => {
      const body = callWebhook('call.held', call);
      expect((await bridge.post('/webhooks/audian', body)).status).toBe(200);
      posted.push(body.id);
    };
    const health = async () => (await bridge.store.connectorHealth()).find((row) => row.connector === 'kafka');
    const deliveredCount = async () => (await bridge.store.list({ status: 'delivered', limit: 1_000 })).length;
    try {
      for (const call of ['k1', 'k2']) await post(call);
      await waitFor(async () => (await deliveredCount()) === 2, { what: 'deliveries before the crash' });

      await broker.kill();
      for (const call of ['k1', 'k2', 'k1', 'k2']) await post(call);
      const down = await waitFor(async () => (await health())?.state === 'down' && health(), { timeoutMs: 30_000, what: 'the kafka connector down' });
      expect(down?.reason).toMatch(/KafkaJS|ECONN|broker/i);
      const waiting = await bridge.store.list({ status: 'pending', limit: 1_000 });
      expect(waiting).toHaveLength(4);
      expect(waiting.map((record) => record.attempts)).toEqual([0, 0, 0, 0]);
      const readyz = await fetch(`${bridge.url}/readyz`);
      expect(readyz.status).toBe(200);
      expect(JSON.stringify(await readyz.json())).toContain('connector kafka is down');
      expect(await (await fetch(`${bridge.url}/metrics`)).text()).toMatch(/^audian_bridge_connector_up\{connector="kafka"\} 0$/m);

      await broker.restart();
      await waitFor(async () => (await deliveredCount()) === posted.length, { timeoutMs: 60_000, what: 'every delivery once the broker is back' });
      expect(await health()).toMatchObject({ state: 'up' });
      expect((await bridge.store.list({ limit: 1_000 })).map((record) => record.attempts)).toEqual(posted.map(() => 1));
      const messages = await readTopics(broker.brokers, [topic], (seen) => new Set(eventsOf(seen).map((event) => event.id)).size >= posted.length, { timeoutMs: 30_000, what: 'every event' });
      expect(new Set(eventsOf(messages).map((event) => event.id))).toEqual(new Set(posted));
    } finally {
      await bridge.stop();
    }
  }, 180_000);
});
