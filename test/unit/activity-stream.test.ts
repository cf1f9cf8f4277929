import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import Koa from 'koa';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivityStreams } from '../../src/http/activity-stream.js';
import { createActivityFeed, type Activity } from '../../src/ops/activity.js';
import { openSse } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

const logger = pino({ level: 'silent' });
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function serveStreams(options: { heartbeatMs?: number; maxBufferBytes?: number; maxClients?: number; recheckMs?: number; allowed?: () => boolean } = {}) {
  const feed = createActivityFeed();
  const { allowed, ...streamOptions } = options;
  const streams = createActivityStreams({ feed, logger, ...streamOptions });
  const app = new Koa();
  app.use(async (ctx) => {
    try {
      streams.serve(ctx, {}, allowed);
    } catch (err) {
      ctx.status = 503;
      ctx.body = { error: { code: (err as { code: string }).code } };
    }
  });
  const server = createServer(app.callback());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { feed, streams, url };
}

const webhook = (index: number, big = ''): Activity => ({ kind: 'webhook', at: Date.now(), source: 'main', outcome: 'accepted', eventId: `e${index}`, type: 'call.initiated', callId: `c${index}${big}` });

describe('live tail streams', () => {
  it('send a heartbeat comment while nothing happens', async () => {
    const { url, streams } = await serveStreams({ heartbeatMs: 50 });
    const stream = await openSse(url);
    await waitFor(() => stream.comments.length >= 3, { timeoutMs: 5_000, what: 'heartbeats' });
    streams.close();
    await stream.ended;
  });

  it('drop a client that stops reading, and publishing never waits for it', async () => {
    const { url, feed } = await serveStreams({ maxBufferBytes: 64 * 1024 });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // Read the head, then stop reading: the kernel's buffers fill, then the stream's own.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    const big = 'x'.repeat(16 * 1024);
    const started = performance.now();
    for (let index = 0; index < 2_000 && !closed; index++) {
      feed.publish(webhook(index, big));
      if (index % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(performance.now() - started).toBeLessThan(10_000);
    socket.resume();
    await waitFor(() => closed, { timeoutMs: 5_000, what: 'the slow client dropped' });
  });

  it('refuse a stream past the cap, and end every stream on close', async () => {
    const { url, streams, feed } = await serveStreams({ maxClients: 2 });
    const first = await openSse(url);
    const second = await openSse(url);
    const third = await fetch(url);
    expect(third.status).toBe(503);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('OVERLOADED');
    feed.publish(webhook(1));
    await first.next((m) => m.event === 'webhook', 2_000);
    await second.next((m) => m.event === 'webhook', 2_000);
    streams.close();
    await Promise.all([first.ended, second.ended]);
    const after = await fetch(url);
    expect(after.status).toBe(503);
  });

  it('end a stream once its client may no longer have it (a console session that ended)', async () => {
    let signedIn = true;
    const { url, feed } = await serveStreams({ recheckMs: 50, allowed: () => signedIn });
    const stream = await openSse(url);
    feed.publish(webhook(1));
    await stream.next((m) => m.event === 'webhook', 2_000);
    signedIn = false;
    await stream.ended;
  });
});
