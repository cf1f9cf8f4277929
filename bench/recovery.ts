import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../scripts/kafka-broker.js';
import { openLoop } from './load.js';
import { webhooks } from './payloads.js';
import { startBridge } from './processes.js';

export interface HttpRecovery {
  readonly outageSeconds: number;
  readonly calls: number;
  /** Seconds from the target listening again to the first request it got, and to the last of the backlog. */
  readonly firstAfterSeconds: number;
  readonly allAfterSeconds: number;
}

/**
 * A local HTTP target down (its port refusing connections) for `outageSeconds`
 * while `calls` calls each send one webhook, early in the outage; then the
 * target listens again. The bridge runs with its default dispatch settings,
 * so what this measures is what a user waits: how soon after the target is
 * back its first delivery arrives, and the whole backlog.
 */
export async function httpRecovery(options: { outageSeconds: number; calls: number }): Promise<HttpRecovery> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-http-'));
  const port = await freePort();
  const bridge = await startBridge(dir, { crm: { type: 'http', url: `http://127.0.0.1:${port}/calls/{subject}`, method: 'POST' } }, { dispatch: 'defaults' });
  let target: http.Server | undefined;
  try {
    const down = performance.now();
    // One webhook per call, spread over the first seconds of the outage: each call's head fails and waits its retry.
    const sent = await openLoop(bridge.url, webhooks('http-recovery', options.calls), { rate: Math.max(1, options.calls / 2), seconds: 2 });
    if (sent.failed > 0) throw new Error(`http recovery: ${sent.failed} webhooks failed`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.outageSeconds * 1000 - (performance.now() - down))));
    let received = 0;
    let first: number | undefined;
    let all: number | undefined;
    const back = performance.now();
    const everything = new Promise<void>((resolve) => {
      target = http.createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          response.end('{}');
          first ??= performance.now();
          if (++received >= sent.total && all === undefined) {
            all = performance.now();
            resolve();
          }
        });
      });
      target.listen(port, '127.0.0.1');
    });
    await Promise.race([everything, new Promise((resolve) => setTimeout(resolve, 600_000).unref())]);
    if (first === undefined || all === undefined) throw new Error(`http recovery: ${received} of ${sent.total} deliveries within 600 s of the target's return`);
    return { outageSeconds: options.outageSeconds, calls: sent.total, firstAfterSeconds: (first - back) / 1000, allAfterSeconds: (all - back) / 1000 };
  } finally {
    await bridge.stop();
    await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Messages in `topic` so far: the sum of its partitions' high watermarks. */
export function topicSize(brokers: string, topic: string): { read(): Promise<number>; close(): Promise<void> } {
  const admin = new Kafka({ clientId: 'audian-bridge-bench-watch', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  let connected: Promise<void> | undefined;
  return {
    async read() {
      connected ??= admin.connect();
      await connected;
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
    },
    close: () => admin.disconnect(),
  };
}

/** Resolves with the seconds until `topic` holds more than `before` messages, polling every 100 ms. */
export async function firstMessageAfter(brokers: string, topic: string, before: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const size = topicSize(brokers, topic);
  try {
    for (;;) {
      const now = await size.read().catch(() => before);
      if (now > before) return (performance.now() - started) / 1000;
      if (performance.now() - started > timeoutMs) throw new Error(`no message reached ${topic} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await size.close().catch(() => undefined);
  }
}
