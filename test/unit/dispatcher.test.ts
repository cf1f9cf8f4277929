import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { permanent, retriable, sent, skipped, type Connector, type Delivery, type SendResult } from '../../src/sdk/index.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { createDispatcher, type DispatchOptions } from '../../src/dispatch/dispatcher.js';
import { createSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import type { DeliveryRecord } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const DAY = 24 * 3600_000;
/** retry_initial 100 ms doubling up to retry_max 1 s, as the config turns it into a schedule. */
const OPTIONS: DispatchOptions = { retry: { schedule: [100, 200, 400, 800, 1_000], maxAgeMs: 3 * DAY, maxAttempts: 3 }, pollIntervalMs: 10, sendTimeoutMs: 5_000 };

/** A connector whose answers the test scripts; it remembers every batch it was handed. */
function fakeConnector(answer: (batch: readonly Delivery[]) => Promise<SendResult[]> | SendResult[]) {
  const batches: Delivery[][] = [];
  const connector: Connector = {
    name: 'fake',
    async start() {},
    async send(batch) {
      batches.push([...batch]);
      return answer(batch);
    },
    async stop() {},
    probe: async () => ({ ok: true }),
  };
  return { connector, batches, sends: () => batches.flat() };
}

let dir: string;
let store: SqliteStore;
let clock: number;
let stops: (() => Promise<void>)[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-dispatch-'));
  store = createSqliteStore(join(dir, 'bridge.db'));
  clock = T0;
  stops = [];
});
afterEach(async () => {
  for (const stop of stops) await stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function event(id: string, subject: string): CanonicalEvent {
  return {
    specversion: '1.0', id, source: 'audian/test', type: 'call.ringing', subject,
    time: new Date(T0).toISOString(), datacontenttype: 'application/json', dialect: 'audian.v2', test: false, data: {},
  };
}

async function accept(...events: CanonicalEvent[]): Promise<void> {
  for (const ev of events) await store.commit({ event: ev, receivedAt: clock, advance: () => ({ event: ev, targets: [{ route: 'r', connector: 'fake' }] }) });
}

function start(connector: Connector, options: Partial<DispatchOptions> = {}, target: { batchSize?: number; maxPerCall?: number } = {}) {
  const dispatcher = createDispatcher({
    store,
    connectors: new Map([['fake', { connector, batchSize: target.batchSize ?? 10, maxPerCall: target.maxPerCall ?? 1 }]]),
    options: { ...OPTIONS, ...options },
    logger: pino({ level: 'silent' }),
    now: () => clock,
    random: () => 0.5,
  });
  dispatcher.start();
  stops.push(() => dispatcher.stop(1_000));
  return dispatcher;
}

/** Absence cannot be polled for: give the worker many poll intervals to do what it should not. */
const quietPeriod = () => new Promise((resolve) => setTimeout(resolve, OPTIONS.pollIntervalMs * 5));

async function record(eventId: string): Promise<DeliveryRecord> {
  const found = (await store.list({})).find((row) => row.eventId === eventId);
  if (!found) throw new Error(`no delivery of ${eventId}`);
  return found;
}

/** Waits until the delivery has been tried `attempts` times and its outcome is written. */
function attempted(eventId: string, attempts: number): Promise<DeliveryRecord> {
  return waitFor(async () => {
    const row = await record(eventId);
    return row.attempts === attempts && row;
  }, { what: `${eventId} tried ${attempts} time(s)` });
}

describe('putting and removing connectors (a config reload)', () => {
  it('a replaced connector finishes its batch in flight and stops before the new one claims; a removed one leaves its deliveries pending', async () => {
    let release: (() => void) | undefined;
    const inFlight = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const old = fakeConnector(async (batch) => {
      order.push('old send');
      await inFlight;
      order.push('old answered');
      return batch.map(() => sent);
    });
    old.connector.stop = async () => void order.push('old stopped');
    const next = fakeConnector((batch) => {
      order.push('new send');
      return batch.map(() => sent);
    });
    await accept(event('evt-a', 'c1'));
    const dispatcher = start(old.connector);
    await waitFor(() => old.batches.length === 1, { what: 'the old connector sending' });

    const replaced = dispatcher.put('fake', { connector: next.connector, batchSize: 10, maxPerCall: 1 });
    await accept(event('evt-b', 'c2'));
    dispatcher.notify(['fake']);
    await quietPeriod();
    expect(next.sends()).toEqual([]);
    release!();
    await replaced;
    expect((await attempted('evt-a', 1)).status).toBe('delivered');
    expect((await attempted('evt-b', 1)).status).toBe('delivered');
    expect(order).toEqual(['old send', 'old answered', 'old stopped', 'new send']);
    expect(old.sends().map((delivery) => delivery.event.id)).toEqual(['evt-a']);

    await dispatcher.remove('fake');
    await accept(event('evt-c', 'c3'));
    dispatcher.notify(['fake']);
    await quietPeriod();
    expect((await record('evt-c')).status).toBe('pending');
    expect(next.sends().map((delivery) => delivery.event.id)).toEqual(['evt-b']);
  });
});

describe('outcomes', () => {
  it('a skipped result is final after one attempt, recorded as skipped with its reason, and the call goes on', async () => {
    const fake = fakeConnector((batch) => batch.map((delivery) => (delivery.event.id === 'evt-skip' ? skipped('older than the last update') : sent)));
    await accept(event('evt-skip', 'c1'), event('evt-after-skip', 'c1'));
    start(fake.connector);
    const skippedRow = await attempted('evt-skip', 1);
    expect(skippedRow).toMatchObject({ status: 'skipped', skipReason: 'older than the last update', lastError: null });
    expect((await store.delivery(skippedRow.id))?.history).toMatchObject([{ outcome: 'skipped', error: 'older than the last update' }]);
    expect(await attempted('evt-after-skip', 1)).toMatchObject({ status: 'delivered' });
    clock += 60_000;
    await quietPeriod();
    expect(fake.sends().map((delivery) => delivery.event.id)).toEqual(['evt-skip', 'evt-after-skip']);
  });

  it('a permanent failure is dead after one attempt', async () => {
    const fake = fakeConnector((batch) => batch.map(() => permanent('rejected: 400')));
    await accept(event('evt-perm', 'c1'));
    start(fake.connector);
    expect(await attempted('evt-perm', 1)).toMatchObject({ status: 'dead', lastError: 'rejected: 400' });
    clock += 60_000;
    await quietPeriod();
    expect(fake.sends()).toHaveLength(1);
  });

  it('a retriable failure is retried with backoff until max_attempts, then dead', async () => {
    const fake = fakeConnector((batch) => batch.map(() => retriable('503 from target')));
    await accept(event('evt-retry', 'c1'));
    start(fake.connector);
    // Equal jitter with random 0.5: three quarters of min(retry_max, initial * 2^(n-1)).
    expect(await attempted('evt-retry', 1)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 75, lastError: '503 from target' });
    clock = T0 + 74;
    await quietPeriod();
    expect(fake.sends()).toHaveLength(1); // not due yet
    clock = T0 + 75;
    expect(await attempted('evt-retry', 2)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 75 + 150 });
    clock = T0 + 225;
    expect(await attempted('evt-retry', 3)).toMatchObject({ status: 'dead' });
    expect(fake.sends().map((delivery) => delivery.attempt)).toEqual([1, 2, 3]);
  });

  it('Retry-After is honoured, capped at retry_max', async () => {
    const fake = fakeConnector((batch) => batch.map((delivery) => retriable('429', delivery.event.id === 'evt-short' ? 300 : 60_000)));
    await accept(event('evt-short', 'c1'), event('evt-long', 'c2'));
    start(fake.connector);
    expect(await attempted('evt-short', 1)).toMatchObject({ nextAttemptAt: T0 + 300 });
    expect(await attempted('evt-long', 1)).toMatchObject({ nextAttemptAt: T0 + 1_000 });
  });

  it('a missing result counts as a retriable failure', async () => {
    const fake = fakeConnector(() => []);
    await accept(event('evt-none', 'c1'));
    start(fake.connector);
    const row = await attempted('evt-none', 1);
    expect(row.status).toBe('pending');
    expect(row.lastError).toMatch(/no result/);
  });

  it('a send that outlives send_timeout takes its connector down; the delivery waits with no attempt spent', async () => {
    const fake = fakeConnector(() => new Promise<SendResult[]>(() => undefined)); // never answers, ignores its signal
    await accept(event('evt-slow', 'c1'));
    start(fake.connector, { sendTimeoutMs: 50 });
    const row = await waitFor(async () => {
      const found = await record('evt-slow');
      return found.lastError !== null && found;
    }, { what: 'the timed-out send recorded' });
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row.lastError).toMatch(/timed out after 50 ms/);
    expect(await store.connectorHealth()).toMatchObject([{ connector: 'fake', state: 'down', reason: expect.stringMatching(/timed out/) }]);
  });

  it('a delivered batch is recorded as delivered, one attempt each', async () => {
    const fake = fakeConnector((batch) => batch.map(() => sent));
    await accept(event('evt-a', 'c1'), event('evt-b', 'c2'));
    start(fake.connector);
    expect(await attempted('evt-a', 1)).toMatchObject({ status: 'delivered', lastError: null });
    expect(await attempted('evt-b', 1)).toMatchObject({ status: 'delivered' });
    expect(fake.batches).toHaveLength(1);
  });
});

describe('per-call order', () => {
  const CALLS = ['ca', 'cb', 'cc'];
  const PER_CALL = 4;
  const events = CALLS.flatMap((call) => Array.from({ length: PER_CALL }, (_, n) => event(`${call}-${n}`, call)));

  /** Fails a call's first event once, and checks that no delivery of a call is ever in flight twice. */
  function orderedConnector() {
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    const delivered: string[] = [];
    let failedOnce = false;
    const fake = fakeConnector(async (batch) => {
      for (const delivery of batch) {
        const call = delivery.event.subject as string;
        if (inFlight.has(call)) overlaps.push(delivery.event.id);
        inFlight.add(call);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (const delivery of batch) inFlight.delete(delivery.event.subject as string);
      return batch.map((delivery) => {
        if (delivery.event.id === 'ca-0' && !failedOnce) {
          failedOnce = true;
          return retriable('first try fails', 0);
        }
        delivered.push(delivery.event.id);
        return sent;
      });
    });
    return { ...fake, overlaps, delivered };
  }

  function inCallOrder(delivered: readonly string[]): void {
    for (const call of CALLS) {
      expect(delivered.filter((id) => id.startsWith(`${call}-`)), call).toEqual(Array.from({ length: PER_CALL }, (_, n) => `${call}-${n}`));
    }
  }

  /** The failed first try waits out the backoff floor (half the first step, even with Retry-After: 0). */
  async function afterTheRetryWait(): Promise<void> {
    await attempted('ca-0', 1);
    clock += 1_000;
  }

  it('a call\'s deliveries never overlap and leave in acceptance order, a retry included', async () => {
    const fake = orderedConnector();
    await accept(...events);
    start(fake.connector, {}, { batchSize: 10 });
    await afterTheRetryWait();
    await waitFor(() => fake.delivered.length === events.length, { what: 'every event delivered' });
    expect(fake.overlaps).toEqual([]);
    for (const batch of fake.batches) {
      const calls = batch.map((delivery) => delivery.event.subject);
      expect(new Set(calls).size, 'one delivery per call in a batch').toBe(calls.length);
    }
    inCallOrder(fake.delivered);
  });

  it('two dispatchers on one store never send one call\'s deliveries at the same time', async () => {
    const fake = orderedConnector();
    await accept(...events);
    start(fake.connector, {}, { batchSize: 2 });
    start(fake.connector, {}, { batchSize: 2 });
    await afterTheRetryWait();
    await waitFor(() => fake.delivered.length === events.length, { what: 'every event delivered' });
    expect(fake.overlaps).toEqual([]);
    inCallOrder(fake.delivered);
    expect(fake.sends()).toHaveLength(events.length + 1); // each once, plus the one retry
  });

  it('a connector that keeps order within a batch gets up to maxPerCall deliveries of a call at once', async () => {
    const fake = fakeConnector((batch) => batch.map(() => sent));
    await accept(...events);
    start(fake.connector, {}, { batchSize: 100, maxPerCall: 3 });
    await waitFor(async () => (await store.list({ status: 'delivered' })).length === events.length, { what: 'every event delivered' });
    expect(fake.batches[0]!.map((delivery) => delivery.event.id)).toEqual(['ca-0', 'ca-1', 'ca-2', 'cb-0', 'cb-1', 'cb-2', 'cc-0', 'cc-1', 'cc-2']);
    inCallOrder(fake.sends().map((delivery) => delivery.event.id));
  });
});

describe('the retry schedule', () => {
  /** The defaults of `dispatch`: 5s, 30s, 2m, 10m, 30m, 1h, 4h (the last repeating), up to 3 days, no attempt limit. */
  const DEFAULTS: DispatchOptions = {
    retry: { schedule: [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 14_400_000], maxAgeMs: 3 * DAY },
    pollIntervalMs: 10,
    sendTimeoutMs: 5_000,
  };

  /** Moves the injected clock to the next due attempt, until `until`, waiting each time for that attempt to be written. */
  async function runClockUntil(until: number, attempts: () => number): Promise<void> {
    for (;;) {
      const due = await store.nextDueAt('fake');
      if (due === undefined || due > until) return;
      const before = attempts();
      clock = Math.max(clock, due);
      await waitFor(async () => attempts() > before && (await store.nextDueAt('fake')) !== due, { what: `the attempt due at ${due - T0} ms` });
    }
  }

  it('a connector down for two hours (past the old 27-minute give-up): nothing dead, all delivered once it is back', async () => {
    let up = false;
    const arrived: string[] = [];
    const fake = fakeConnector((batch) =>
      batch.map((delivery) => {
        if (!up) return retriable('connection refused');
        arrived.push(delivery.event.id);
        return sent;
      }),
    );
    const events = ['c1', 'c2', 'c3'].map((call) => event(`evt-out-${call}`, call));
    await accept(...events);
    start(fake.connector, DEFAULTS);
    await runClockUntil(T0 + 2 * 3600_000, () => fake.sends().length);
    const during = await store.list({});
    expect(during.map((row) => row.status)).toEqual(['pending', 'pending', 'pending']);
    // The old defaults (12 attempts, 10 min cap) had given up by now; this schedule is at its 6th or 7th step.
    expect(Math.min(...during.map((row) => row.attempts))).toBeGreaterThanOrEqual(5);
    expect(await store.list({ status: 'dead' })).toEqual([]);

    up = true;
    clock = T0 + 6 * 3600_000; // past the longest step (4 h): everything is due again
    await waitFor(async () => (await store.list({ status: 'delivered' })).length === 3, { what: 'every event delivered' });
    expect(arrived.sort()).toEqual(events.map((ev) => ev.id).sort());
  });

  it('gives up at max_age (from when the delivery was queued), with the reason', async () => {
    const fake = fakeConnector((batch) => batch.map(() => retriable('still down')));
    await accept(event('evt-age', 'c1'));
    start(fake.connector, { ...DEFAULTS, retry: { ...DEFAULTS.retry, maxAgeMs: 3_600_000 } });
    await runClockUntil(T0 + 2 * 3600_000, () => fake.sends().length);
    const row = await record('evt-age');
    expect(row.status).toBe('dead');
    // The last retry falls at max_age exactly, not a step beyond it.
    expect((await store.delivery(row.id))?.history.at(-1)?.at).toBeLessThanOrEqual(T0 + 3_600_000);
  });

  it('Retry-After: 0 waits at least the step\'s lower bound, so it cannot burn attempts', async () => {
    const fake = fakeConnector((batch) => batch.map(() => retriable('429', 0)));
    await accept(event('evt-zero', 'c1'));
    start(fake.connector, DEFAULTS);
    expect(await attempted('evt-zero', 1)).toMatchObject({ status: 'pending', nextAttemptAt: T0 + 2_500 });
    await quietPeriod();
    expect(fake.sends()).toHaveLength(1);
  });

  it('a connector\'s own policy overrides the dispatcher\'s', async () => {
    const fake = fakeConnector((batch) => batch.map(() => retriable('down')));
    await accept(event('evt-own', 'c1'));
    const dispatcher = createDispatcher({
      store,
      connectors: new Map([['fake', { connector: fake.connector, batchSize: 10, maxPerCall: 1, retry: { schedule: [1_000], maxAgeMs: DAY, maxAttempts: 1 } }]]),
      options: DEFAULTS,
      logger: pino({ level: 'silent' }),
      now: () => clock,
      random: () => 0.5,
    });
    dispatcher.start();
    stops.push(() => dispatcher.stop(1_000));
    expect(await attempted('evt-own', 1)).toMatchObject({ status: 'dead' });
  });
});

describe('pause', () => {
  it('a failure of a batch in flight when the pause came does not go dead, whatever its budget', async () => {
    const fake = fakeConnector(async (batch) => {
      await store.pause('fake', clock);
      return batch.map(() => retriable('down'));
    });
    await accept(event('evt-inflight', 'c1'));
    start(fake.connector, { retry: { schedule: [100], maxAgeMs: DAY, maxAttempts: 1 } });
    expect(await attempted('evt-inflight', 1)).toMatchObject({ status: 'pending' });
  });

  it('no attempts while paused, however long; resume delivers all and nothing went dead', async () => {
    const fake = fakeConnector((batch) => batch.map(() => sent));
    await store.pause('fake', T0);
    await accept(event('evt-p1', 'c1'), event('evt-p2', 'c2'));
    start(fake.connector, { retry: { schedule: [100], maxAgeMs: 1_000 } });
    clock = T0 + 10 * DAY; // far past max_age
    await quietPeriod();
    expect(fake.sends()).toEqual([]);
    await store.resume('fake', clock);
    await waitFor(async () => (await store.list({ status: 'delivered' })).length === 2, { what: 'both delivered after resume' });
    expect(fake.sends()).toHaveLength(2);
  });
});

describe('batches in flight', () => {
  it('a call whose send hangs holds one slot: the other calls keep flowing, in order, until it times out', async () => {
    const fake = fakeConnector(async (batch) => {
      // The target hangs for call c-stuck until the send timeout aborts it.
      if (batch.some((delivery) => delivery.event.subject === 'c-stuck')) await new Promise(() => undefined);
      return batch.map(() => sent);
    });
    Object.assign(fake.connector, { concurrency: 2 });
    await accept(event('evt-stuck', 'c-stuck'), event('evt-b1', 'c-b'), event('evt-b2', 'c-b'), event('evt-c1', 'c-c'));
    start(fake.connector, { sendTimeoutMs: 60_000 }, { batchSize: 1 });
    await waitFor(async () => (await store.list({ status: 'delivered' })).length === 3, { what: 'the other calls delivered while one hangs' });
    const others = fake.sends().map((delivery) => delivery.event.id).filter((id) => id !== 'evt-stuck');
    expect([...others].sort()).toEqual(['evt-b1', 'evt-b2', 'evt-c1']);
    expect(others.indexOf('evt-b1')).toBeLessThan(others.indexOf('evt-b2'));
    expect(await record('evt-stuck')).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('with one slot (the default) a hanging send holds the connector', async () => {
    const fake = fakeConnector(async (batch) => {
      if (batch.some((delivery) => delivery.event.subject === 'c-stuck')) await new Promise(() => undefined);
      return batch.map(() => sent);
    });
    await accept(event('evt-stuck', 'c-stuck'), event('evt-b1', 'c-b'));
    start(fake.connector, { sendTimeoutMs: 60_000 }, { batchSize: 1 });
    await waitFor(() => fake.sends().length === 1, { what: 'the first send' });
    await quietPeriod();
    expect(fake.sends().map((delivery) => delivery.event.id)).toEqual(['evt-stuck']);
  });
});

describe('an idle worker', () => {
  /** Counts the claims the worker makes from now on. */
  function countClaims(): () => number {
    let claims = 0;
    const claim = store.claim.bind(store);
    store.claim = (...args) => {
      claims++;
      return claim(...args);
    };
    return () => claims;
  }

  it('does not spin while the only due delivery waits behind its call\'s retry', async () => {
    // The first delivery fails and waits for its retry (the injected clock never reaches it); the second one is due
    // but must not overtake it. The worker looks again once per poll interval, not every few milliseconds.
    const fake = fakeConnector((batch) => batch.map(() => retriable('down', 60_000)));
    await accept(event('evt-1', 'c-held'), event('evt-2', 'c-held'));
    start(fake.connector, { pollIntervalMs: 200 });
    await waitFor(async () => (await record('evt-1')).attempts === 1, { what: 'the first attempt recorded' });
    const claims = countClaims();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(fake.sends().map((delivery) => delivery.event.id)).toEqual(['evt-1']);
    // Five poll intervals: a few looks at most (5 ms apart it would be about 100).
    expect(claims()).toBeLessThanOrEqual(8);
  });

  it('a batch of its own in flight wakes it when it ends, without the poll interval', async () => {
    let release: (() => void) | undefined;
    const fake = fakeConnector(async (batch) => {
      if (batch.some((delivery) => delivery.event.id === 'evt-1')) await new Promise<void>((resolve) => (release = resolve));
      return batch.map(() => sent);
    });
    Object.assign(fake.connector, { concurrency: 2 });
    await accept(event('evt-1', 'c-one'), event('evt-2', 'c-one'));
    start(fake.connector, { pollIntervalMs: 60_000 }, { batchSize: 1 });
    await waitFor(() => release !== undefined, { what: 'the first send in flight' });
    release?.();
    await waitFor(async () => (await store.list({ status: 'delivered' })).length === 2, { what: 'both delivered', timeoutMs: 5_000 });
    expect(fake.sends().map((delivery) => delivery.event.id)).toEqual(['evt-1', 'evt-2']);
  });
});

describe('a batch window', () => {
  /** Polls on the event loop's check phase (the test fakes setTimeout), up to 10 s of the real clock. */
  async function until(probe: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  afterEach(() => vi.useRealTimers());

  it('gathers the news of several commits into one claim at the window\'s end, keeping each call\'s order', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fake = fakeConnector((batch) => batch.map(() => sent));
    let looked = 0;
    const nextDueAt = store.nextDueAt.bind(store);
    store.nextDueAt = async (...args) => {
      const due = await nextDueAt(...args);
      looked++;
      return due;
    };
    const dispatcher = start(fake.connector, { pollIntervalMs: 60_000, batchWindowMs: 50 });
    // The worker found nothing and sleeps for the poll interval, which the test's clock never reaches.
    await until(() => looked === 1, 'the first look at an empty outbox');
    for (const [id, call] of [['evt-1', 'c1'], ['evt-2', 'c2'], ['evt-3', 'c1']] as const) {
      await accept(event(id, call));
      dispatcher.notify(['fake']);
    }
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(fake.batches).toEqual([]);

    vi.advanceTimersByTime(50);
    await until(async () => (await store.list({ status: 'delivered' })).length === 2, 'the first batch delivered');
    // The batch was not full: what comes next is gathered too; evt-3 waited behind evt-1, its call's earlier delivery.
    vi.advanceTimersByTime(50);
    await until(async () => (await store.list({ status: 'delivered' })).length === 3, 'the second batch delivered');
    expect(fake.batches.map((batch) => batch.map((delivery) => delivery.event.id))).toEqual([['evt-1', 'evt-2'], ['evt-3']]);
  });
});
