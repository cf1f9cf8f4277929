import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request of an `http` connector (the canonical event in structured mode) as the sink saw it. */
export interface Arrival {
  readonly eventId: string;
  readonly type: string;
  readonly callId: string;
  /** The `X-Replica` header the sending bridge's connector adds. */
  readonly replica: string;
}

export interface OrderedSinkOptions {
  /** True: keep this request open, never answer it (the sender is mid-send until it gives up or dies). */
  readonly hold?: (arrival: Arrival) => boolean;
  /** How long to take over an answer, so deliveries of different calls overlap. */
  readonly delayMs?: () => number;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a CRM that needs each call's
 * updates one at a time, in order: it records every arrival in order, which
 * ones it answered 200 (delivered), and every moment two requests of one call
 * were in flight at once (which per-call order forbids).
 */
export async function startOrderedSink(options: OrderedSinkOptions = {}) {
  const arrivals: Arrival[] = [];
  const delivered: Arrival[] = [];
  const overlaps: string[] = [];
  const inFlight = new Map<string, string>();
  let held = 0;
  let probes = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // The http connector's health probe (`HEAD /` by default) carries no event: answered, counted apart, never an arrival.
    if (req.method === 'HEAD') {
      probes++;
      res.writeHead(200).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; type: string; subject?: string };
      const arrival: Arrival = { eventId: event.id, type: event.type, callId: event.subject ?? '', replica: String(req.headers['x-replica'] ?? '') };
      arrivals.push(arrival);
      const other = inFlight.get(arrival.callId);
      if (other !== undefined) overlaps.push(`call ${arrival.callId}: ${arrival.eventId} (${arrival.replica}) arrived while ${other} was in flight`);
      inFlight.set(arrival.callId, `${arrival.eventId} (${arrival.replica})`);
      const done = () => {
        if (inFlight.get(arrival.callId) === `${arrival.eventId} (${arrival.replica})`) inFlight.delete(arrival.callId);
      };
      // The sender gave up (an abort) or died: the request is no longer in flight.
      res.once('close', done);
      if (options.hold?.(arrival)) {
        held++;
        return;
      }
      setTimeout(() => {
        if (res.destroyed) return;
        done();
        delivered.push(arrival);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      }, options.delayMs?.() ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Every request, in arrival order. */
    arrivals,
    /** The requests answered 200, in arrival order. */
    delivered,
    /** Each time a call had two requests in flight at once. */
    overlaps,
    /** How many requests are being held open (or were, until their sender went away). */
    held: () => held,
    /** How many health probes (HEAD requests) came. */
    probes: () => probes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type OrderedSink = Awaited<ReturnType<typeof startOrderedSink>>;

/** Per call, the event ids in the order `arrivals` has them, each id once (its first arrival). */
export function orderPerCall(arrivals: readonly Arrival[]): Map<string, string[]> {
  const order = new Map<string, string[]>();
  for (const { callId, eventId } of arrivals) {
    const ids = order.get(callId) ?? [];
    if (!ids.includes(eventId)) ids.push(eventId);
    order.set(callId, ids);
  }
  return order;
}
