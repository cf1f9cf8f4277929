import { existsSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startFakeSlack, blocksText } from '../test/helpers/fake-slack.js';
import type { Receipt } from './ledger.js';

/**
 * The sinks of a chaos run and how each is read back into receipts: the CRM
 * (an HTTP target whose faults the nemesis sets), the Slack Web API stand-in,
 * the file connector's file (tailed, so each line gets the time it appeared),
 * the Kafka topic (read from the start once the run drained) and the
 * transcript documents.
 */

interface CloudEvent {
  readonly id: string;
  readonly type: string;
  readonly subject?: string;
  readonly data?: { readonly revision?: number; readonly disposition?: string };
}

function receiptOf(sink: string, event: CloudEvent, at: number, seq: number): Receipt {
  return {
    sink,
    eventId: event.id,
    callId: event.subject,
    type: event.type,
    at,
    seq,
    ...(typeof event.data?.revision === 'number' ? { revision: event.data.revision } : {}),
    ...(typeof event.data?.disposition === 'string' ? { disposition: event.data.disposition } : {}),
  };
}

/** How the CRM answers: `hang` and `reset` apply the update first (the target had it; the answer is what is lost). */
export type CrmMode = 'ok' | '500' | '429' | 'hang' | 'reset';

export async function startCrm(sink: string) {
  let mode: CrmMode = 'ok';
  const receipts: Receipt[] = [];
  const hanging = new Set<Socket>();
  let seq = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (mode === '500') return void res.writeHead(500).end('{"error":"chaos"}');
      if (mode === '429') return void res.writeHead(429, { 'retry-after': '2' }).end('{"error":"slow down"}');
      // The connector's health probe (HEAD /) meets the same fault as an update, and is no update.
      if (req.method === 'PUT') receipts.push(receiptOf(sink, JSON.parse(Buffer.concat(chunks).toString('utf8')) as CloudEvent, Date.now(), seq++));
      if (mode === 'reset') return void req.socket.resetAndDestroy();
      if (mode === 'hang') return void hanging.add(req.socket);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    receipts,
    setMode(next: CrmMode) {
      mode = next;
      // A hang ends with the connections it held cut: their answers never come.
      if (next === 'hang') return;
      for (const socket of hanging) socket.destroy();
      hanging.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startSlack(sink: string) {
  const slack = await startFakeSlack({ channels: { alerts: 'C0ALERTS' } });
  return {
    slack,
    storm(on: boolean) {
      slack.failWith(() => (on ? { kind: 'rate_limited', retryAfter: '2' } : undefined));
    },
    /** Each accepted post, by the call and event ids of its context line. */
    receipts(): Receipt[] {
      return slack.messages.map((message, seq) => {
        const text = blocksText(message);
        return { sink, eventId: /event ([^\s"*`\\]+)/.exec(text)?.[1] ?? '?', callId: /call ([^\s"*`\\]+)/.exec(text)?.[1], type: 'call.missed', at: message.at, seq };
      });
    },
  };
}

/** Reads the lines appended to `path` since the last read, stamping each with the time it was seen. */
export function createFileTail(sink: string, path: string) {
  const receipts: Receipt[] = [];
  let offset = 0;
  let partial = '';
  return {
    receipts,
    poll() {
      if (!existsSync(path)) return;
      const size = statSync(path).size;
      if (size <= offset) return;
      const fd = openSync(path, 'r');
      try {
        const buffer = Buffer.alloc(size - offset);
        readSync(fd, buffer, 0, buffer.length, offset);
        offset = size;
        const lines = (partial + buffer.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        const now = Date.now();
        for (const line of lines) if (line.trim()) receipts.push(receiptOf(sink, JSON.parse(line) as CloudEvent, now, receipts.length));
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Every message on `topic`, from the start; a call's messages share a partition, so (partition, offset) is its order. */
export async function readKafka(sink: string, brokers: string, topic: string, expected: number, timeoutMs: number): Promise<Receipt[]> {
  const kafka = new Kafka({ clientId: 'audian-bridge-chaos', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `chaos-${Date.now()}` });
  const receipts: Receipt[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let lastGrowth = Date.now();
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        lastGrowth = Date.now();
        const event = JSON.parse(message.value!.toString('utf8')) as CloudEvent;
        receipts.push(receiptOf(sink, event, Number(message.timestamp), partition * 1e12 + Number(message.offset)));
      },
    });
    // Read until everything expected is in and nothing new came for 3 s, or the time is up.
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (receipts.length < expected || Date.now() - lastGrowth < 3_000)) await new Promise((resolve) => setTimeout(resolve, 250));
  } finally {
    await consumer.disconnect();
  }
  return receipts;
}

/** The transcript documents a call should have: `<dir>/<source>/<call id>.json`, `final` for a call that carried its transcript. */
export function missingTranscripts(dir: string, source: string, calls: readonly { callId: string; transcribed: boolean }[]): string[] {
  const missing: string[] = [];
  for (const call of calls) {
    const path = join(dir, source, `${call.callId}.json`);
    if (!existsSync(path)) {
      missing.push(`${call.callId}: no transcript document`);
      continue;
    }
    const document = JSON.parse(readFileSync(path, 'utf8')) as { transcript_source?: string };
    if (call.transcribed && document.transcript_source !== 'final') missing.push(`${call.callId}: transcript_source ${String(document.transcript_source)}, expected final`);
  }
  return missing;
}
