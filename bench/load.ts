import http from 'node:http';
import autocannon from 'autocannon';
import { WEBHOOK_PATH, type Webhook } from './payloads.js';

export interface LoadResult {
  /** Requests answered per second. */
  readonly rate: number;
  readonly total: number;
  readonly failed: number;
  /** The first failure's error, when a request failed without an answer. */
  readonly firstError?: string;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Closed loop: `connections` keep one request each in flight, for `seconds` or
 * until `amount` were sent; the rate is what the server sustains.
 */
export async function closedLoop(url: string, next: () => Webhook, options: { seconds?: number; amount?: number; connections: number }): Promise<LoadResult> {
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.seconds } : { amount: options.amount }),
    requests: [
      {
        method: 'POST',
        path: WEBHOOK_PATH,
        setupRequest: (request: Record<string, unknown>) => {
          const webhook = next();
          return { ...request, body: webhook.body, headers: webhook.headers };
        },
      },
    ] as never,
  });
  return {
    rate: result['2xx'] / (options.amount === undefined ? (options.seconds as number) : (performance.now() - started) / 1000),
    total: result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
  };
}

/**
 * Open loop: `rate` requests a second sent at evenly spaced times, whether or
 * not earlier ones were answered (a provider does not wait for us), on
 * keep-alive sockets. Each latency counts from the moment its request was due,
 * so a server that stalls is charged for the queue it causes. The schedule is
 * kept to the millisecond: at 3,000/s, three requests leave together.
 */
export function openLoop(url: string, next: () => Webhook, options: { rate: number; seconds: number }): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const latencies = new Float64Array(total);
  const gap = 1000 / options.rate;
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now() + 20;

  return new Promise((resolve) => {
    function finish(index: number, due: number, ok: boolean) {
      latencies[index] = performance.now() - due;
      if (!ok) failed++;
      if (++answered === total) {
        agent.destroy();
        const sorted = latencies.sort();
        const at = (q: number) => sorted[Math.min(total - 1, Math.floor(q * total))] as number;
        const seconds = (performance.now() - started) / 1000;
        resolve({
          rate: total / seconds,
          total,
          failed,
          ...(firstError ? { firstError } : {}),
          p50: round(at(0.5)),
          p99: round(at(0.99)),
          max: round(sorted[total - 1] as number),
        });
      }
    }
    function send(index: number, due: number, webhook = next(), resent = false) {
      const request = http.request(
        { agent, host: target.hostname, port: target.port, path: WEBHOOK_PATH, method: 'POST', headers: { ...webhook.headers, 'content-length': Buffer.byteLength(webhook.body) } },
        (response) => {
          response.resume();
          response.on('end', () => finish(index, due, response.statusCode === 200));
        },
      );
      request.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as the request left on it: the server never read the request.
        // Sent again once, as Node's documentation advises; its latency still counts from when it was due.
        if (request.reusedSocket && err.code === 'ECONNRESET' && !resent) return send(index, due, webhook, true);
        firstError ??= `${err.code ?? 'error'}: ${err.message}`;
        finish(index, due, false);
      });
      request.end(webhook.body);
    }
    function tick() {
      const now = performance.now();
      for (let due = started + sent * gap; sent < total && due <= now; due = started + sent * gap) send(sent++, due);
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * gap - performance.now()));
    }
    setTimeout(tick, 20);
  });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
