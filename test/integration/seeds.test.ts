import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { SEED_EXPECTATIONS } from '../fixtures/seed-expectations.js';
import { baseConfig, readEvents, startBridge, type TestBridge } from '../helpers/bridge.js';
import { SEEDS_DIR, SHARED_SEEDS_DIR, seedExamples, type SeedExample } from '../helpers/seeds.js';
import { waitFor } from '../helpers/wait.js';

const examples = seedExamples();
const documents = [...new Set(examples.map((example) => example.file))];

it('every JSON example in the seed documents has an expectation, and every expectation an example', () => {
  expect(examples.map((example) => example.ref).sort()).toEqual(Object.keys(SEED_EXPECTATIONS).sort());
});

it.runIf(existsSync(SHARED_SEEDS_DIR))('the copy in test/fixtures/seeds matches the shared provider documents (run where ../shared/seeds is present)', () => {
  const names = readdirSync(SHARED_SEEDS_DIR).filter((name) => name.endsWith('.txt')).sort();
  expect(readdirSync(SEEDS_DIR).filter((name) => name.endsWith('.txt')).sort()).toEqual(names);
  for (const name of names) expect(readFileSync(join(SEEDS_DIR, name), 'utf8'), name).toBe(readFileSync(join(SHARED_SEEDS_DIR, name), 'utf8'));
});

// One bridge per document: each document tells the story of one call, in its own order.
describe.each(documents)('seed document %s through the running server', (file) => {
  const mine = examples.filter((example) => example.file === file);
  let bridge: TestBridge;
  const answers = new Map<string, { status: number; body: Record<string, unknown> }>();

  beforeAll(async () => {
    // Derived events (call.missed, call.summary) fall due a grace after a call's end: none within this test, which counts the webhooks' own.
    bridge = await startBridge((dir) => baseConfig(dir, { lifecycle: { missed_call_grace: '1h' } }));
    // In document order, one at a time, exactly the bytes the document shows.
    for (const example of mine) answers.set(example.ref, await bridge.post('/webhooks/audian', example.text));
  });
  afterAll(() => bridge.stop());

  const webhooks = mine.filter((example) => 'event' in SEED_EXPECTATIONS[example.ref]!);
  const others = mine.filter((example) => 'refused' in SEED_EXPECTATIONS[example.ref]!);

  async function delivered(): Promise<CanonicalEvent[]> {
    const path = join(bridge.dir, 'events.jsonl');
    return waitFor(() => readEvents(path).length >= webhooks.length && readEvents(path), { what: `${webhooks.length} events in the file` });
  }

  it.each(webhooks.map((example) => [example.ref, example] as const))('%s comes out of the file connector as its canonical event', async (ref, example: SeedExample) => {
    const expected = SEED_EXPECTATIONS[ref]!;
    if (!('event' in expected)) throw new Error('unreachable');
    const answer = answers.get(ref)!;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ deliveries: 1 });
    const events = await delivered();
    const event = events.find((candidate) => candidate.id === answer.body.id && candidate.type === expected.event.type);
    expect(event, `no ${expected.event.type} with id ${String(answer.body.id)} in the file`).toBeDefined();
    expect(event).toMatchObject({
      specversion: '1.0',
      source: 'audian/main',
      type: expected.event.type,
      subject: expected.event.subject,
      time: expected.event.time,
      datacontenttype: 'application/json',
      dialect: expected.event.dialect,
      test: expected.event.test,
      data: expected.event.data,
    });
    expect(event!.account).toBe(expected.event.account);
    if (expected.event.id === 'derived') expect(event!.id).toMatch(/^voice_[0-9a-f]{32}$/);
    else expect(event!.id).toBe(expected.event.id);
    // Fields of the payload are never dropped: every key of the provider's `data` (or `payload`) survives somewhere in data.
    const raw = JSON.parse(example.text) as { data?: Record<string, unknown>; payload?: Record<string, unknown> };
    expect(Object.keys(event!.data).length).toBeGreaterThanOrEqual(Object.keys(raw.data ?? raw.payload ?? {}).length);
  });

  if (others.length > 0) {
    it.each(others.map((example) => [example.ref] as const))('%s is refused with its code', (ref) => {
      const expected = SEED_EXPECTATIONS[ref]!;
      if (!('refused' in expected)) throw new Error('unreachable');
      const answer = answers.get(ref)!;
      expect(answer.status).toBe(expected.refused.status);
      expect(answer.body).toMatchObject({ error: { code: expected.refused.code } });
    });
  }

  it('stores exactly the webhook payloads, each once, and nothing for the refused examples', async () => {
    const events = await delivered();
    expect(events).toHaveLength(webhooks.length);
    const stored = bridge.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
    expect(stored.n).toBe(webhooks.length);
  });

  it('derived voice ids are distinct per payload', async () => {
    const ids = (await delivered()).map((event) => `${event.type}/${event.id}`);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
