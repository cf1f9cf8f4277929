import { afterEach, describe, expect, it } from 'vitest';
import type { CommitRequest, RawRequest, Store } from '../../src/store/index.js';
import { RAW_HEADER_BYTES, REDACTED } from '../../src/store/index.js';
import { event, SOURCE, T0, TO_SINK } from './store.js';

/** A fresh, empty store keeping raw requests or not, how many of its event rows hold any of one (read with SQL), and how to throw it away. */
export type RawStoreFactory = (options: { readonly keepRaw?: boolean }) => Promise<{ readonly store: Store; rawRows(): Promise<number>; dispose(): Promise<void> }>;

const DAY = 24 * 3600_000;

/** Bytes that are not UTF-8, a NUL among them: kept as bytes, not as text. */
const BODY = Buffer.concat([Buffer.from('{"id":"evt-raw","data":"<script>alert(1)</script>"}'), Buffer.from([0, 0xff, 0xfe, 0x80])]);

const HEADERS: RawRequest['headers'] = [
  ['Host', '127.0.0.1'],
  ['Content-Type', 'application/json'],
  ['X-Audian-Signature', 'sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
  ['X-Audian-Timestamp', '1772366400'],
  ['Authorization', 'Bearer s3cr3t-token'],
  ['Cookie', 'session=s3cr3t-cookie'],
  ['Proxy-Authorization', 'Basic s3cr3t'],
  ['X-Forwarded-For', '203.0.113.7'],
  ['X-Forwarded-For', '198.51.100.1'],
];

function commit(id: string, raw: RawRequest | undefined, receivedAt = T0): CommitRequest {
  const ev = event(id, `call-${id}`);
  return {
    event: ev,
    receivedAt,
    ...(raw ? { raw } : {}),
    advance: () => ({ event: ev, targets: TO_SINK }),
  };
}

/**
 * `store.keep_raw` (src/store/raw.ts): the request each event arrived in is
 * kept with the event, on the event's row, without any secret header's value,
 * and goes when the event is pruned; off, nothing of it is kept.
 */
export function describeRawContract(name: string, factory: RawStoreFactory): void {
  describe(`raw request contract: ${name}`, () => {
    let disposers: (() => Promise<void>)[] = [];
    let rawRows: () => Promise<number>;
    async function open(options: { keepRaw?: boolean } = {}): Promise<Store> {
      const opened = await factory(options);
      disposers.push(opened.dispose);
      rawRows = opened.rawRows;
      return opened.store;
    }
    afterEach(async () => {
      for (const dispose of disposers) await dispose();
      disposers = [];
    });

    it('keeps the body byte for byte and the headers in order, with the event', async () => {
      const store = await open();
      await store.commit(commit('evt-raw', { body: BODY, headers: HEADERS, secretHeaders: ['X-Audian-Signature', 'x-audian-timestamp'] }));
      const [trace] = await store.trace('evt-raw');
      expect(Buffer.from(trace?.raw?.body ?? []).equals(BODY)).toBe(true);
      expect(trace?.raw?.headers.map(([header]) => header)).toEqual(HEADERS.map(([header]) => header));
      expect(trace?.raw?.headers).toContainEqual(['Content-Type', 'application/json']);
      expect(trace?.raw?.headers.filter(([header]) => header === 'X-Forwarded-For').map(([, value]) => value)).toEqual(['203.0.113.7', '198.51.100.1']);
    });

    it('never keeps the value of a verification header, Authorization or Cookie: the name with a marker', async () => {
      const store = await open();
      await store.commit(commit('evt-red', { body: BODY, headers: HEADERS, secretHeaders: ['x-audian-signature', 'X-Audian-Timestamp'] }));
      const [trace] = await store.trace('evt-red');
      const kept = new Map(trace?.raw?.headers.map(([header, value]) => [header.toLowerCase(), value]));
      for (const secret of ['x-audian-signature', 'x-audian-timestamp', 'authorization', 'cookie', 'proxy-authorization']) expect(kept.get(secret), secret).toBe(REDACTED);
      const text = JSON.stringify(trace?.raw?.headers);
      for (const value of ['s3cr3t', 'aaaaaaaa', '1772366400']) expect(text).not.toContain(value);
    });

    it('bounds the headers kept', async () => {
      const store = await open();
      const many = Array.from({ length: 100 }, (_, n) => [`X-Filler-${n}`, 'x'.repeat(1000)] as const);
      await store.commit(commit('evt-big', { body: BODY, headers: many }));
      const [trace] = await store.trace('evt-big');
      const bytes = (trace?.raw?.headers ?? []).reduce((sum, [header, value]) => sum + header.length + value.length, 0);
      expect(bytes).toBeLessThanOrEqual(RAW_HEADER_BYTES);
      expect(trace?.raw?.headers.length).toBeGreaterThan(20);
      expect(trace?.raw?.headers[0]).toEqual(['X-Filler-0', 'x'.repeat(1000)]);
    });

    it('an event given no raw request (a derived one) has none', async () => {
      const store = await open();
      await store.commit(commit('evt-none', undefined));
      const [trace] = await store.trace('evt-none');
      expect(trace?.event.id).toBe('evt-none');
      expect(trace?.raw).toBeUndefined();
    });

    it('goes when its event is pruned', async () => {
      const store = await open();
      await store.commit(commit('evt-old', { body: BODY, headers: HEADERS }));
      await store.commit(commit('evt-new', { body: BODY, headers: HEADERS }, T0 + 2 * DAY));
      const claimed = await store.claim('sink', T0 + 2 * DAY, { limit: 10, leaseMs: 60_000, maxPerCall: 1 });
      await store.settle(claimed.map(({ id, lease }) => ({ id, lease, outcome: 'delivered' as const })), T0 + 2 * DAY);
      expect(await rawRows()).toBe(2);
      expect((await store.prune(T0 + 2 * DAY, DAY, 100)).events).toBe(1);
      expect(await store.trace('evt-old')).toEqual([]);
      expect(await rawRows()).toBe(1);
      expect((await store.trace('evt-new'))[0]?.raw?.body.byteLength).toBe(BODY.length);
      // Forgotten with it: the same event comes again as new, and keeps the request it came in now.
      expect((await store.commit(commit('evt-old', { body: Buffer.from('again'), headers: [] }, T0 + 2 * DAY))).duplicate).toBe(false);
      expect(Buffer.from((await store.trace('evt-old'))[0]?.raw?.body ?? []).toString()).toBe('again');
    });

    it('keep_raw false keeps nothing of the request', async () => {
      const store = await open({ keepRaw: false });
      expect((await store.commit(commit('evt-off', { body: BODY, headers: HEADERS }))).duplicate).toBe(false);
      const [trace] = await store.trace('evt-off');
      expect(trace?.event.source).toBe(SOURCE);
      expect(trace?.raw).toBeUndefined();
      expect(await rawRows()).toBe(0);
    });
  });
}
