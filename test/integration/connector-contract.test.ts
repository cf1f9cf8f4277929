import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import type { Connector, Delivery, Preview, Previewer, SendResult } from '../../src/sdk/index.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { startFakeSlack } from '../helpers/fake-slack.js';
import { startRecordingServer } from '../helpers/http-server.js';
import { createTopics, deleteCreatedTopics, readTopics, uniqueName } from '../helpers/kafka.js';

/**
 * The contract every connector keeps with the dispatcher (src/sdk/connector.ts),
 * run against each connector type and a real target of it.
 */
interface Target {
  /** Options for a working target. */
  readonly options: Record<string, unknown>;
  /** Options for a target that cannot be reached or written. */
  readonly broken: Record<string, unknown>;
  /** Event ids the target has received, for a check that deliveries really arrived. */
  received(ids: readonly string[]): Promise<string[]>;
  teardown(): Promise<void>;
}

interface ContractCase {
  readonly type: string;
  readonly skip?: string | null;
  /** The event type this connector acts on (some ignore most types). */
  readonly eventType: string;
  setup(): Promise<Target>;
}

const kafka = inject('kafka');
const scratch = mkdtempSync(join(tmpdir(), 'audian-bridge-contract-'));
const blocker = join(scratch, 'not-a-directory');
writeFileSync(blocker, 'a file where a folder is needed');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CASES: readonly ContractCase[] = [
  {
    type: 'file',
    eventType: 'call.initiated',
    async setup() {
      const path = join(scratch, 'contract.jsonl');
      return {
        options: { type: 'file', path },
        broken: { type: 'file', path: join(blocker, 'events.jsonl') },
        received: async () => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as CanonicalEvent).id) : []),
        teardown: async () => undefined,
      };
    },
  },
  {
    type: 'transcript',
    eventType: 'transcript.segment',
    async setup() {
      const dir = join(scratch, 'transcripts');
      return {
        options: { type: 'transcript', dir },
        broken: { type: 'transcript', dir: join(blocker, 'transcripts') },
        received: async () => {
          const folder = join(dir, 'contract');
          if (!existsSync(folder)) return [];
          return readdirSync(folder).flatMap((file) =>
            readFileSync(join(folder, file), 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { event_id: string }).event_id),
          );
        },
        teardown: async () => undefined,
      };
    },
  },
  {
    type: 'http',
    eventType: 'call.completed',
    async setup() {
      const server = await startRecordingServer();
      return {
        options: { type: 'http', url: `${server.url}/events/{subject}` },
        broken: { type: 'http', url: 'http://127.0.0.1:9/events', timeout: '2s' },
        // Without a body mapping, each request's body is the canonical event.
        received: async () => server.requests.map((request) => (JSON.parse(request.body) as CanonicalEvent).id),
        teardown: () => server.close(),
      };
    },
  },
  {
    type: 'slack',
    eventType: 'call.missed',
    async setup() {
      const slack = await startFakeSlack();
      return {
        options: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: '0ms' },
        broken: { type: 'slack', token: slack.token, channel: 'alerts', api_url: 'http://127.0.0.1:9/api/', timeout: '2s' },
        received: async () => slack.messages.map((message) => /evt_contract_[a-z0-9_]+/.exec(JSON.stringify(message.params))?.[0] ?? ''),
        teardown: () => slack.close(),
      };
    },
  },
  {
    type: 'kafka',
    skip: kafka.skipReason,
    eventType: 'call.initiated',
    async setup() {
      const brokers = kafka.brokers!;
      const topic = uniqueName('contract');
      await createTopics(brokers, [topic]);
      return {
        options: { type: 'kafka', brokers, topic },
        broken: { type: 'kafka', brokers: '127.0.0.1:9', topic, connection_timeout: '300ms', request_timeout: '1s', retries: 1 },
        received: async (ids) => {
          const idOf = (value: string | null) => (JSON.parse(value ?? '{}') as { id: string }).id;
          const messages = await readTopics(brokers, [topic], (read) => ids.every((id) => read.some((message) => idOf(message.value) === id)), { timeoutMs: 15_000 });
          return messages.map((message) => idOf(message.value));
        },
        teardown: () => deleteCreatedTopics(brokers),
      };
    },
  },
];

it('covers every connector type', () => {
  expect(CASES.map((contract) => contract.type).sort()).toEqual(Object.keys(CONNECTORS).sort());
});

it('each type name is spelled once: the registry key is the definition\'s type and its schema\'s only type', () => {
  for (const [type, definition] of Object.entries(CONNECTORS)) {
    expect(definition.type).toBe(type);
    const other = Object.keys(CONNECTORS).find((name) => name !== type)!;
    const issues = definition.schema.safeParse({ type: other }).error?.issues ?? [];
    expect(issues.some((issue) => issue.path.join('.') === 'type'), type).toBe(true);
    expect(definition.maxPerCall).toBeGreaterThanOrEqual(1);
    expect(definition.maxPerCall).toBeLessThanOrEqual(definition.batchSize);
  }
});

it('a type that names no connector, also a property every object has, is a config error on `type`', () => {
  for (const type of ['nope', 'constructor', '__proto__', 'toString']) {
    const text = YAML.stringify({ sources: [{ name: 'main', verify: { none: true } }], connectors: { out: { type } } });
    let error: unknown;
    try {
      parseConfig(text, {}, CONNECTORS);
    } catch (err) {
      error = err;
    }
    expect(error, type).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => `${issue.path} ${issue.code}`), type).toEqual(['connectors.out.type CONFIG_BAD_VALUE']);
  }
});

let sequence = 0;
function deliveries(eventType: string, count: number): Delivery[] {
  return Array.from({ length: count }, (_, index) => {
    sequence++;
    const id = `evt_contract_${sequence}`;
    const callId = `call_contract_${index % 2}`;
    const event = {
      specversion: '1.0',
      id,
      source: 'audian/contract',
      type: eventType,
      subject: callId,
      time: new Date(Date.UTC(2026, 0, 1, 12, 0, sequence)).toISOString(),
      datacontenttype: 'application/json',
      dialect: 'audian.v2',
      test: false,
      data: {
        call_id: callId,
        from: '+14155550100',
        to: '+14155550101',
        speaker: 'customer',
        text: `line ${sequence} of ${id}`,
        reason: 'no_answer',
        call_type: 'inbound',
        ended_at: '2026-01-01T12:00:00.000Z',
        call: { id: callId, direction: 'inbound', from: '+14155550100', to: '+14155550101' },
      },
    } as unknown as CanonicalEvent;
    return { id: sequence, route: 'contract', attempt: 1, event };
  });
}

function create(options: Record<string, unknown>, fetch: typeof globalThis.fetch = globalThis.fetch): Connector & Previewer {
  const definition = CONNECTORS[options.type as string]!;
  return definition.create('contract', definition.schema.parse(options), { logger: pino({ level: 'silent' }), fetch, now: Date.now });
}

/** Fails the test if a preview fetches anything. */
const noFetch: typeof fetch = () => {
  throw new Error('preview fetched something');
};

function expectWellFormed(results: readonly SendResult[], count: number): void {
  expect(results).toHaveLength(count);
  for (const result of results) {
    if (result.ok) continue;
    expect(typeof result.retriable).toBe('boolean');
    expect(result.error.length).toBeGreaterThan(0);
    if (result.retryAfterMs !== undefined) expect(result.retryAfterMs).toBeGreaterThanOrEqual(0);
  }
}

describe.each(CASES.map((contract) => [contract.type, contract] as const))('connector contract: %s', (type, contract) => {
  const skip = contract.skip ?? null;
  let target: Target;
  beforeAll(async () => {
    if (skip === null) target = await contract.setup();
  });
  afterAll(async () => {
    if (skip === null) await target.teardown();
  });

  it.skipIf(skip !== null)(`delivers a batch: one ok result per delivery, and the target has every event${skip ? ` — SKIPPED: ${skip}` : ''}`, async () => {
    const connector = create(target.options);
    await connector.start();
    try {
      const batch = deliveries(contract.eventType, Math.min(3, CONNECTORS[type]!.batchSize));
      const results = await connector.send(batch, new AbortController().signal);
      expectWellFormed(results, batch.length);
      expect(results.every((result) => result.ok)).toBe(true);
      const ids = batch.map((delivery) => delivery.event.id);
      expect(await target.received(ids)).toEqual(expect.arrayContaining(ids));
      expect(await connector.send([], new AbortController().signal)).toEqual([]);
    } finally {
      await connector.stop();
    }
  });

  it.skipIf(skip !== null)(`reports an unreachable or unwritable target as results, never by throwing${skip ? ` — SKIPPED: ${skip}` : ''}`, async () => {
    const connector = create(target.broken);
    // start() may fail (the dispatcher logs it and keeps going); send must still answer.
    await connector.start().catch(() => undefined);
    try {
      const batch = deliveries(contract.eventType, 2);
      const results = await connector.send(batch, AbortSignal.timeout(20_000));
      expectWellFormed(results, batch.length);
      expect(results.some((result) => !result.ok)).toBe(true);
    } finally {
      await connector.stop();
    }
  });

  it.skipIf(skip !== null)(`preview tells what would be sent, sends nothing, and needs no start()${skip ? ` — SKIPPED: ${skip}` : ''}`, async () => {
    const previewed = deliveries(contract.eventType, 1);
    const connector = create(target.options, noFetch);
    const previews: Preview[] = [];
    for (const { event } of previewed) previews.push(await connector.preview(event));
    for (const [index, preview] of previews.entries()) {
      expect(preview.outcome).toBe('send');
      if (preview.outcome !== 'send') continue;
      expect(preview.target.length).toBeGreaterThan(0);
      expect(JSON.stringify(preview.message)).toContain(previewed[index]!.event.id);
      // The same answer twice: nothing changed in between.
      expect(await connector.preview(previewed[index]!.event)).toEqual(preview);
    }
    // A broken target previews as well: preview never reaches it.
    const broken = create(target.broken, noFetch);
    expect((await broken.preview(previewed[0]!.event)).outcome).toBe('send');
    await connector.stop();
    await broken.stop();

    // Then one real send of the same call: it arrives, the previewed event never does.
    const sender = create(target.options);
    await sender.start();
    try {
      const [marker] = deliveries(contract.eventType, 1);
      expect(await sender.send([marker!], new AbortController().signal)).toEqual([{ ok: true }]);
      const received = await target.received([marker!.event.id]);
      expect(received).toContain(marker!.event.id);
      expect(received).not.toContain(previewed[0]!.event.id);
    } finally {
      await sender.stop();
    }
  });

  it.skipIf(skip !== null)(`stop() can be called twice${skip ? ` — SKIPPED: ${skip}` : ''}`, async () => {
    const connector = create(target.options);
    await connector.start();
    await connector.stop();
    await expect(connector.stop()).resolves.toBeUndefined();
  });

  // Last: the http target records the probe's request, which has no event in its body.
  it.skipIf(skip !== null)(`probe: ok against a working target, a reason against a broken one, before start()${skip ? ` — SKIPPED: ${skip}` : ''}`, async () => {
    const working = create(target.options);
    const broken = create(target.broken);
    try {
      expect(await working.probe(AbortSignal.timeout(20_000))).toEqual({ ok: true, detail: expect.any(String) });
      const failed = await broken.probe(AbortSignal.timeout(20_000));
      expect(failed.ok).toBe(false);
      if (!failed.ok) expect(failed.reason.length).toBeGreaterThan(0);
    } finally {
      await working.stop();
      await broken.stop();
    }
  });
});
