import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, startBridge, TEST_SECRET, type TestBridge } from '../helpers/bridge.js';
import { openRawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { signAudianRequest } from '../../src/verify/index.js';

const PATH = '/webhooks/audian';

/** Request head for a POST with `length` body bytes announced. */
function head(length: number, headers: Record<string, string> = {}): string {
  const lines = [`POST ${PATH} HTTP/1.1`, 'Host: bridge', 'Content-Type: application/json', `Content-Length: ${length}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function statusOf(response: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(response);
  return match ? Number(match[1]) : undefined;
}

function codeOf(response: string): string | undefined {
  return /"code":"([A-Z_]+)"/.exec(response)?.[1];
}

describe('limits before and while reading the body', () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    bridge = await startBridge((dir) => baseConfig(dir, { server: { host: '127.0.0.1', port: 0, body_timeout: '700ms', max_inflight_body: '256kb' } }));
  });
  afterAll(() => bridge.stop());

  it('200 slow unsigned uploads are each refused before the body is read, and their connections closed', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => openRawClient(bridge.url)));
    // One megabyte announced, not a byte of it sent.
    for (const client of clients) client.socket.write(head(1_000_000));
    await waitFor(() => clients.every((client) => client.closed()), { what: 'every connection closed by the server', timeoutMs: 15_000 });
    for (const client of clients) {
      expect(statusOf(client.received())).toBe(401);
      expect(codeOf(client.received())).toBe('SIGNATURE_MISSING');
    }
  });

  it('a stale timestamp is refused before the body, too', async () => {
    const client = await openRawClient(bridge.url);
    client.socket.write(head(1_000_000, signAudianRequest('{}', TEST_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 3600 })));
    await waitFor(() => client.closed(), { what: 'the connection closed' });
    expect(codeOf(client.received())).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('a body that trickles in (slowloris) is cut after body_timeout: 408 REQUEST_TIMEOUT, connection closed', async () => {
    const body = JSON.stringify({ id: 'evt_slow', event: 'call.ringing', data: { call_id: 'call_slow' } });
    const client = await openRawClient(bridge.url);
    const started = Date.now();
    client.socket.write(head(Buffer.byteLength(body), signAudianRequest(body, TEST_SECRET)));
    client.socket.write(body.slice(0, 10));
    const timer = setInterval(() => !client.closed() && client.socket.write(' '), 200); // never completes: too few bytes per tick
    try {
      await waitFor(() => client.closed(), { what: 'the connection closed', timeoutMs: 10_000 });
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(statusOf(client.received())).toBe(408);
    expect(codeOf(client.received())).toBe('REQUEST_TIMEOUT');
  });

  it('past max_inflight_body, a new upload gets 503 OVERLOADED with Retry-After; the budget frees when the slow one ends', async () => {
    const body = JSON.stringify({ id: 'evt_budget', event: 'call.ringing', data: { call_id: 'call_budget' } });
    const hog = await openRawClient(bridge.url);
    hog.socket.write(head(200 * 1024, signAudianRequest('x', TEST_SECRET))); // reserves 200 kB, sends nothing more
    hog.socket.write('{');
    const answer = await waitFor(async () => {
      const response = await fetch(bridge.url + PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signAudianRequest(body + ' '.repeat(100 * 1024), TEST_SECRET) },
        body: body + ' '.repeat(100 * 1024),
      });
      return response.status === 503 && response; // the hog's reservation is registered once its head is parsed
    });
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(await answer.json()).toMatchObject({ error: { code: 'OVERLOADED' } });
    await waitFor(() => hog.closed(), { what: 'the hog cut by body_timeout' });
    const after = await bridge.post(PATH, body + ' '.repeat(100 * 1024));
    expect(after).toMatchObject({ status: 200, body: { id: 'evt_budget' } });
  });
});

describe('connection cap', () => {
  let bridge: TestBridge;
  beforeAll(async () => {
    bridge = await startBridge((dir) => baseConfig(dir, { server: { host: '127.0.0.1', port: 0, max_connections: 5 } }));
  });
  afterAll(() => bridge.stop());

  it('connections past server.max_connections are closed at once; one more is taken when one ends', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => openRawClient(bridge.url)));
    const extra = await openRawClient(bridge.url);
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n');
    await waitFor(() => extra.closed(), { what: 'the sixth connection closed' });
    expect(extra.received()).toBe('');
    held[0]!.socket.destroy();
    await waitFor(() => held[0]!.closed());
    const next = await waitFor(async () => {
      const client = await openRawClient(bridge.url);
      client.socket.write('GET /healthz HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n');
      await waitFor(() => client.closed(), { what: 'the answer' });
      return statusOf(client.received()) === 200 && client;
    });
    expect(statusOf(next.received())).toBe(200);
    for (const client of held) client.socket.destroy();
  });
});
