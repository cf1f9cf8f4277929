import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyKafkaError } from '../../connectors/kafka/errors.js';
import { kafkaSchema } from '../../connectors/kafka/index.js';
import { buildRecord, STRUCTURED_CONTENT_TYPE, type KafkaRecord, type RecordFormat } from '../../connectors/kafka/message.js';
import { chunkBySize, createProducerSlot, createSender, type ProducerLike } from '../../connectors/kafka/sender.js';
import type { SendResult } from '../../src/sdk/index.js';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { ConfigError } from '../../src/errors.js';
import { compileTemplate } from '../../src/template.js';

const dir = mkdtempSync(join(tmpdir(), 'kafka-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configIssues(connector: string, env: Record<string, string> = {}): readonly string[] {
  const text = `
sources:
  - name: main
    verify: { hmac: { secrets: ["s1"] } }
connectors:
  k: ${connector}
routes:
  - name: all
    to: k
`;
  try {
    parseConfig(text, env, CONNECTORS);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((issue) => `${issue.path} ${issue.code}`);
    throw err;
  }
  return [];
}

describe('kafka options', () => {
  it('fills defaults: call id as key, structured mode, idempotent with acks all', () => {
    expect(kafkaSchema.parse({ type: 'kafka', brokers: 'k1:9092', topic: 'audian.{type}' })).toEqual({
      type: 'kafka',
      brokers: ['k1:9092'],
      client_id: 'audian-bridge',
      topic: 'audian.{type}',
      key: '{subject}',
      mode: 'structured',
      acks: -1,
      idempotent: true,
      compression: 'none',
      allow_auto_topic_creation: true,
      max_message_bytes: 1_000_000,
      connection_timeout: 3_000,
      request_timeout: 10_000,
      retries: 2,
    });
  });

  it('takes brokers as a list or a comma-separated string (as from ${KAFKA_BROKERS})', () => {
    const config = parseConfig(
      `
sources: [{ name: main, verify: { none: true } }]
connectors:
  k: { type: kafka, brokers: "\${KAFKA_BROKERS}", topic: t }
  l: { type: kafka, brokers: ["a:1", "[::1]:9093"], topic: t, acks: leader, idempotent: "false", compression: gzip, max_message_bytes: 2mb, request_timeout: 5s }
`,
      { KAFKA_BROKERS: 'k1:9092, k2:9092' },
      CONNECTORS,
    );
    expect(config.connectors.k).toMatchObject({ brokers: ['k1:9092', 'k2:9092'] });
    expect(config.connectors.l).toMatchObject({ brokers: ['a:1', '[::1]:9093'], acks: 1, idempotent: false, compression: 'gzip', max_message_bytes: 2 * 1024 * 1024, request_timeout: 5_000 });
  });

  it('rejects bad values, naming the key path and the kind of problem', () => {
    const cases: [string, string][] = [
      ['{ type: kafka, topic: t }', 'connectors.k.brokers CONFIG_MISSING_KEY'],
      ['{ type: kafka, brokers: "k1", topic: t }', 'connectors.k.brokers CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: "a.{type" }', 'connectors.k.topic CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, mode: json }', 'connectors.k.mode CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, acks: leader }', 'connectors.k.acks CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, compression: snappy }', 'connectors.k.compression CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, partitioner: murmur }', 'connectors.k.partitioner CONFIG_UNKNOWN_KEY'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, retries: 0 }', 'connectors.k.retries CONFIG_BAD_VALUE'],
      ['{ type: kafka, brokers: "k1:9092", topic: t, sasl: { mechanism: gssapi, username: u, password: p } }', 'connectors.k.sasl.mechanism CONFIG_BAD_VALUE'],
    ];
    for (const [connector, issue] of cases) expect(configIssues(connector), connector).toEqual([issue]);
  });

  it('reads TLS material from files or takes it inline, and checks it at load', () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const parsed = kafkaSchema.parse({ type: 'kafka', brokers: 'k1:9093', topic: 't', tls: { ca, cert: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----', key: '-----BEGIN PRIVATE KEY-----\nY\n-----END PRIVATE KEY-----' }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(parsed.tls).toMatchObject({ ca: [expect.stringContaining('MIIB')], cert: expect.stringContaining('X'), reject_unauthorized: true });
    expect(kafkaSchema.parse({ type: 'kafka', brokers: 'k1:9093', topic: 't', tls: true }).tls).toEqual({ reject_unauthorized: true });
    expect(kafkaSchema.parse({ type: 'kafka', brokers: 'k1:9093', topic: 't', tls: 'false' }).tls).toBeUndefined();
    expect(configIssues(`{ type: kafka, brokers: "k1:9093", topic: t, tls: { ca: ${join(dir, 'missing.pem')} } }`)).toEqual(['connectors.k.tls.ca[0] CONFIG_BAD_VALUE']);
    expect(configIssues(`{ type: kafka, brokers: "k1:9093", topic: t, tls: { cert: ${ca} } }`)).toEqual(['connectors.k.tls.key CONFIG_BAD_VALUE']);
  });
});

const event: CanonicalEvent = {
  specversion: '1.0',
  id: 'evt-1',
  source: 'audian/main',
  type: 'call.answered',
  subject: 'call-9',
  time: '2026-01-01T00:00:00.000Z',
  datacontenttype: 'application/json',
  dialect: 'audian.v2',
  test: true,
  account: 'acct-1',
  data: { call_id: 'call-9', from: '+1', call: { id: 'call-9', direction: 'inbound' } },
};

function format(overrides: Partial<{ topic: string; key: string; mode: 'structured' | 'binary'; maxMessageBytes: number }> = {}): RecordFormat {
  return {
    topic: compileTemplate(overrides.topic ?? 'audian.{type}'),
    key: compileTemplate(overrides.key ?? '{subject}'),
    mode: overrides.mode ?? 'structured',
    maxMessageBytes: overrides.maxMessageBytes ?? 1_000_000,
  };
}

describe('buildRecord', () => {
  it('structured mode: the event as JSON value and the CloudEvents content type', () => {
    const built = buildRecord(event, format());
    expect(built).toMatchObject({ ok: true, record: { topic: 'audian.call.answered', key: 'call-9', headers: { 'content-type': STRUCTURED_CONTENT_TYPE } } });
    if (!built.ok) return;
    expect(JSON.parse(built.record.value)).toEqual(event);
    expect(Object.keys(built.record.headers)).toEqual(['content-type']);
  });

  it('binary mode: data as value, every other attribute as a ce_ header', () => {
    const built = buildRecord(event, format({ mode: 'binary' }));
    if (!built.ok) throw new Error(built.error);
    expect(JSON.parse(built.record.value)).toEqual(event.data);
    expect(built.record.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: 'evt-1',
      ce_source: 'audian/main',
      ce_type: 'call.answered',
      ce_subject: 'call-9',
      ce_time: '2026-01-01T00:00:00.000Z',
      ce_dialect: 'audian.v2',
      ce_test: 'true',
      ce_account: 'acct-1',
      'content-type': 'application/json',
    });
    const { subject: _subject, account: _account, ...bare } = event;
    const noCall = buildRecord({ ...bare, test: false }, format({ mode: 'binary' }));
    if (!noCall.ok) throw new Error(noCall.error);
    expect(noCall.record.headers).not.toHaveProperty('ce_subject');
    expect(noCall.record.headers).not.toHaveProperty('ce_account');
    expect(noCall.record.headers.ce_test).toBe('false');
  });

  it('keys by the key template, and by the event id when it has no value', () => {
    expect(buildRecord(event, format({ key: '{account}:{subject}' }))).toMatchObject({ ok: true, record: { key: 'acct-1:call-9' } });
    const { subject: _subject, ...noSubject } = event;
    expect(buildRecord(noSubject, format())).toMatchObject({ ok: true, record: { key: 'evt-1' } });
  });

  it('fails, permanently, when the topic has no value or is not a topic name', () => {
    expect(buildRecord(event, format({ topic: 'calls.{data.missing}' }))).toEqual({ ok: false, error: 'topic template "calls.{data.missing}" has no value for {data.missing}' });
    expect(buildRecord(event, format({ topic: 'calls.{data.from}' }))).toMatchObject({ ok: false, error: expect.stringContaining('"calls.+1" is not a valid Kafka topic name') });
  });

  it('refuses a message over max_message_bytes, counting key, value and headers', () => {
    const built = buildRecord(event, format());
    if (!built.ok) throw new Error(built.error);
    const size = built.record.size;
    expect(size).toBe(Buffer.byteLength('call-9') + Buffer.byteLength(built.record.value) + Buffer.byteLength('content-type') + Buffer.byteLength(STRUCTURED_CONTENT_TYPE));
    expect(buildRecord(event, format({ maxMessageBytes: size })).ok).toBe(true);
    expect(buildRecord(event, format({ maxMessageBytes: size - 1 }))).toMatchObject({ ok: false, error: expect.stringContaining(`is ${size} bytes, over max_message_bytes (${size - 1})`) });
  });
});

/** A protocol error as kafkajs builds it from a broker's error code. */
function protocolError(type: string, code: number, retriable: boolean): KafkaJSProtocolError {
  return new KafkaJSProtocolError({ message: `broker says ${type}`, type, code, retriable } as unknown as Error);
}
/** What kafkajs's retrier throws once its retries are spent. */
function retriesExceeded(cause: Error): Error {
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 2, retryTime: 400 } as never);
}

describe('classifyKafkaError', () => {
  it('a missing topic, after kafkajs retried it, is permanent for its topic', () => {
    expect(classifyKafkaError(retriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true)))).toMatchObject({
      retriable: false,
      scope: 'topic',
      kind: 'UNKNOWN_TOPIC_OR_PARTITION',
      error: expect.stringMatching(/^UNKNOWN_TOPIC_OR_PARTITION: broker says .*after 2 retries.*create the topic/),
    });
  });

  it('authorization failures and oversized messages are permanent; sized by what they concern', () => {
    const wrap = (e: Error): Error => Reflect.construct(KafkaJSNonRetriableError, [e, { cause: e }]);
    expect(classifyKafkaError(wrap(protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false)))).toMatchObject({ retriable: false, scope: 'topic' });
    expect(classifyKafkaError(wrap(protocolError('CLUSTER_AUTHORIZATION_FAILED', 31, false)))).toMatchObject({ retriable: false, scope: 'connection' });
    expect(classifyKafkaError(wrap(protocolError('MESSAGE_TOO_LARGE', 10, false)))).toMatchObject({ retriable: false, scope: 'message', error: expect.stringContaining('max.message.bytes') });
    expect(classifyKafkaError(protocolError('INVALID_RECORD', 87, false))).toMatchObject({ retriable: false, scope: 'message' });
  });

  it("producer-state errors are retriable (a new producer fixes them); other protocol errors follow kafkajs's flag, per topic", () => {
    expect(classifyKafkaError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false))).toMatchObject({ retriable: true, scope: 'connection' });
    expect(classifyKafkaError(protocolError('UNKNOWN_PRODUCER_ID', 59, false))).toMatchObject({ retriable: true, scope: 'connection' });
    expect(classifyKafkaError(retriesExceeded(protocolError('LEADER_NOT_AVAILABLE', 5, true)))).toMatchObject({ retriable: true, scope: 'topic' });
    expect(classifyKafkaError(protocolError('UNSUPPORTED_VERSION', 35, false))).toMatchObject({ retriable: false, scope: 'topic' });
  });

  it('connection trouble and unknown errors are retriable for the whole batch', () => {
    expect(classifyKafkaError(retriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')))).toMatchObject({
      retriable: true,
      scope: 'connection',
      kind: 'KafkaJSConnectionError',
      error: expect.stringContaining('ECONNREFUSED'),
    });
    expect(classifyKafkaError(Reflect.construct(KafkaJSSASLAuthenticationError, ['SASL SCRAM SHA512 authentication failed']))).toMatchObject({ retriable: true, scope: 'connection', error: expect.stringContaining('sasl') });
    expect(classifyKafkaError(new TypeError('boom'))).toMatchObject({ retriable: true, scope: 'connection', kind: 'TypeError' });
    expect(classifyKafkaError('a string')).toMatchObject({ retriable: true, scope: 'connection' });
  });

  it('an unreachable cluster is the connector\'s fault; credentials, producer state and unknown errors are not', () => {
    expect(classifyKafkaError(retriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')))).toHaveProperty('fault', 'unreachable');
    expect(classifyKafkaError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'))).toHaveProperty('fault', 'unreachable');
    expect(classifyKafkaError(retriesExceeded(protocolError('BROKER_NOT_AVAILABLE', 8, true)))).toMatchObject({ retriable: true, scope: 'connection', fault: 'unreachable' });
    expect(classifyKafkaError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toHaveProperty('fault', 'unreachable');
    expect(classifyKafkaError(Reflect.construct(KafkaJSSASLAuthenticationError, ['SASL SCRAM SHA512 authentication failed']))).not.toHaveProperty('fault');
    expect(classifyKafkaError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false))).not.toHaveProperty('fault');
    expect(classifyKafkaError(retriesExceeded(protocolError('LEADER_NOT_AVAILABLE', 5, true)))).not.toHaveProperty('fault');
    expect(classifyKafkaError(new TypeError('boom'))).not.toHaveProperty('fault');
  });
});

interface SentBatch {
  readonly producer: number;
  readonly topics: Record<string, string[]>;
}

/**
 * Producers that answer each request with `respond` (an error to throw, or
 * nothing), recording every request and which producer it went through.
 */
function fakeProducers(respond: (topics: Record<string, string[]>, producer: number) => Error | undefined, connect: (producer: number) => Error | undefined = () => undefined) {
  const requests: SentBatch[] = [];
  let created = 0;
  const disconnected: number[] = [];
  const createProducer = (): ProducerLike => {
    const id = ++created;
    return {
      async connect() {
        const error = connect(id);
        if (error) throw error;
      },
      async disconnect() {
        disconnected.push(id);
      },
      async sendBatch({ topicMessages }) {
        const topics = Object.fromEntries(topicMessages.map(({ topic, messages }) => [topic, messages.map((message) => message.value)]));
        requests.push({ producer: id, topics });
        await Promise.resolve();
        const error = respond(topics, id);
        if (error) throw error;
        return [];
      },
    };
  };
  return { createProducer, requests, disconnected, created: () => created };
}

function record(topic: string, value: string, size = value.length): KafkaRecord {
  return { topic, key: value, value, headers: {}, size };
}

function sender(producers: ReturnType<typeof fakeProducers>, maxRequestBytes = 1_000_000) {
  return createSender({ createProducer: producers.createProducer, acks: -1, ackTimeoutMs: 1000, compression: 0, maxRequestBytes, logger: pino({ level: 'silent' }) });
}

const never = new AbortController().signal;
const ok: SendResult = { ok: true };

describe('createSender', () => {
  it('sends a batch of several topics in one request, through one producer kept across sends', async () => {
    const producers = fakeProducers(() => undefined);
    const s = sender(producers);
    expect(await s.send([record('a', 'a1'), record('b', 'b1'), record('a', 'a2')], never)).toEqual([ok, ok, ok]);
    expect(await s.send([record('b', 'b2')], never)).toEqual([ok]);
    expect(producers.requests).toEqual([
      { producer: 1, topics: { a: ['a1', 'a2'], b: ['b1'] } },
      { producer: 1, topics: { b: ['b2'] } },
    ]);
    await s.close();
    expect(producers.disconnected).toEqual([1]);
  });

  it('a topic failure: each topic is sent on its own, and only the failing topic fails', async () => {
    const producers = fakeProducers((topics) => ('missing' in topics ? retriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true)) : undefined));
    const s = sender(producers);
    const results = await s.send([record('a', 'a1'), record('missing', 'm1'), record('b', 'b1'), record('missing', 'm2')], never);
    expect(results[0]).toEqual(ok);
    expect(results[2]).toEqual(ok);
    for (const index of [1, 3]) {
      expect(results[index]).toMatchObject({ ok: false, retriable: false, error: expect.stringMatching(/^topic "missing": UNKNOWN_TOPIC_OR_PARTITION/) });
    }
    // After each failed request the next one goes through a new producer.
    expect(producers.requests).toEqual([
      { producer: 1, topics: { a: ['a1'], missing: ['m1', 'm2'], b: ['b1'] } },
      { producer: 2, topics: { a: ['a1'] } },
      { producer: 2, topics: { missing: ['m1', 'm2'] } },
      { producer: 3, topics: { b: ['b1'] } },
    ]);
    expect(producers.disconnected).toEqual([1, 2]);
  });

  it('a message failure: the messages of that topic are sent one by one', async () => {
    const producers = fakeProducers((topics) => (Object.values(topics).flat().some((value) => value.startsWith('big')) ? protocolError('MESSAGE_TOO_LARGE', 10, false) : undefined));
    const s = sender(producers);
    const results = await s.send([record('a', 'a1'), record('a', 'big1'), record('a', 'a2')], never);
    expect(results).toEqual([ok, expect.objectContaining({ ok: false, retriable: false, error: expect.stringContaining('MESSAGE_TOO_LARGE') }), ok]);
    expect(producers.requests.map((request) => request.topics)).toEqual([{ a: ['a1', 'big1', 'a2'] }, { a: ['a1'] }, { a: ['big1'] }, { a: ['a2'] }]);
  });

  it('a retriable message failure holds back the later messages of its key (one call), not other keys', async () => {
    const producers = fakeProducers((topics) => (Object.values(topics).flat().some((value) => value === 'bad') ? protocolError('CORRUPT_MESSAGE', 2, true) : undefined));
    const s = sender(producers);
    const keyed = (key: string, value: string): KafkaRecord => ({ topic: 'a', key, value, headers: {}, size: value.length });
    const results = await s.send([keyed('c1', 'first'), keyed('c1', 'bad'), keyed('c2', 'other'), keyed('c1', 'later')], never);
    expect(results).toEqual([
      ok,
      expect.objectContaining({ ok: false, retriable: true, error: expect.stringContaining('CORRUPT_MESSAGE') }),
      ok,
      expect.objectContaining({ ok: false, retriable: true, error: expect.stringMatching(/earlier event with the same topic and key failed/) }),
    ]);
    // `later` never went out on its own: it would have overtaken `bad`.
    expect(producers.requests.map((request) => request.topics)).toEqual([{ a: ['first', 'bad', 'other', 'later'] }, { a: ['first'] }, { a: ['bad'] }, { a: ['other'] }]);
  });

  it('a retriable failure of one request holds back that key in the requests after it', async () => {
    const producers = fakeProducers((topics) => (Object.values(topics).flat().includes('x1') ? retriesExceeded(protocolError('LEADER_NOT_AVAILABLE', 5, true)) : undefined));
    const keyed = (key: string, value: string): KafkaRecord => ({ topic: 'a', key, value, headers: {}, size: 8 });
    const results = await sender(producers, 10).send([keyed('c1', 'x1'), keyed('c2', 'y1'), keyed('c1', 'x2')], never);
    expect(results).toEqual([expect.objectContaining({ retriable: true }), ok, expect.objectContaining({ retriable: true, error: expect.stringMatching(/same topic and key/) })]);
    expect(producers.requests.map((request) => request.topics)).toEqual([{ a: ['x1'] }, { a: ['y1'] }]);
  });

  it('a retriable topic failure (leader moving) does not hold up the other topics', async () => {
    const producers = fakeProducers((topics) => ('moving' in topics ? retriesExceeded(protocolError('LEADER_NOT_AVAILABLE', 5, true)) : undefined));
    const results = await sender(producers).send([record('moving', 'x'), record('a', 'a1')], never);
    expect(results).toEqual([expect.objectContaining({ ok: false, retriable: true, error: expect.stringContaining('LEADER_NOT_AVAILABLE') }), ok]);
  });

  it('a connection failure fails the whole batch, retriable, without a request per topic', async () => {
    const producers = fakeProducers(() => retriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')));
    const results = await sender(producers, 10).send([record('a', 'a1', 8), record('b', 'b1', 8), record('c', 'c1', 8)], never);
    expect(results).toHaveLength(3);
    for (const result of results) expect(result).toMatchObject({ ok: false, retriable: true, error: expect.stringContaining('ECONNREFUSED') });
    // Three requests' worth (10 bytes each), but the first failure cuts the rest short.
    expect(producers.requests).toHaveLength(1);
  });

  it('when it cannot connect, fails retriable and connects again on the next send', async () => {
    let up = false;
    const producers = fakeProducers(
      () => undefined,
      () => (up ? undefined : new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')),
    );
    const s = sender(producers);
    await expect(s.connect()).rejects.toThrow('ECONNREFUSED');
    expect(await s.send([record('a', 'a1')], never)).toEqual([expect.objectContaining({ ok: false, retriable: true })]);
    up = true;
    expect(await s.send([record('a', 'a1')], never)).toEqual([ok]);
    expect(producers.created()).toBe(3);
    expect(producers.disconnected).toEqual([1, 2]);
  });

  it('splits a batch into requests of at most maxRequestBytes, keeping the order', () => {
    expect(chunkBySize([record('a', 'x', 4), record('a', 'x', 4), record('a', 'x', 4), record('a', 'x', 9), record('a', 'x', 1)], 8)).toEqual([[0, 1], [2], [3], [4]]);
  });

  it('does not send once the signal is aborted', async () => {
    const producers = fakeProducers(() => undefined);
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    expect(await sender(producers).send([record('a', 'a1')], controller.signal)).toEqual([expect.objectContaining({ ok: false, retriable: true, error: expect.stringContaining('shutting down') })]);
    expect(producers.requests).toEqual([]);
  });

  it('runs sends one at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const producers = fakeProducers(() => undefined);
    const base = producers.createProducer;
    producers.createProducer = () => {
      const producer = base();
      return {
        ...producer,
        async sendBatch(batch) {
          most = Math.max(most, ++inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return producer.sendBatch(batch);
        },
      };
    };
    const s = sender(producers);
    const results = await Promise.all([s.send([record('a', '1')], never), s.send([record('a', '2')], never), s.send([record('a', '3')], never)]);
    expect(results).toEqual([[ok], [ok], [ok]]);
    expect(most).toBe(1);
    expect(producers.requests.map((request) => request.topics.a)).toEqual([['1'], ['2'], ['3']]);
  });
});

describe('createProducerSlot', () => {
  it('connects one producer for concurrent callers, and a new one, after the old one disconnected, once retired', async () => {
    const producers = fakeProducers(() => undefined);
    const slot = createProducerSlot(producers.createProducer, pino({ level: 'silent' }));
    const [first, second] = await Promise.all([slot.ready(), slot.ready()]);
    expect(first).toBe(second);
    expect(await slot.ready()).toBe(first);
    expect(producers.created()).toBe(1);
    slot.retire();
    const [third, fourth] = await Promise.all([slot.ready(), slot.ready()]);
    expect(third).not.toBe(first);
    expect(third).toBe(fourth);
    expect(producers.created()).toBe(2);
    expect(producers.disconnected).toEqual([1]);
    await slot.close();
    expect(producers.disconnected).toEqual([1, 2]);
  });

  it('close waits for a connect in progress and disconnects what it connected', async () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const producers = fakeProducers(() => undefined);
    const base = producers.createProducer;
    producers.createProducer = () => ({ ...base(), connect: () => opened });
    const slot = createProducerSlot(producers.createProducer, pino({ level: 'silent' }));
    const connecting = slot.ready();
    const closed = slot.close();
    open();
    await connecting;
    await closed;
    expect(producers.disconnected).toEqual([1]);
  });
});
