import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { createConnectorNames, readinessOf, shutDown, type ServiceState, type ShutdownParts } from '../../src/service.js';
import { waitFor } from '../helpers/wait.js';

function config(connectors: Record<string, unknown>) {
  return parseConfig(YAML.stringify({ sources: [{ name: 'main', verify: { none: true } }], connectors }), {}, CONNECTORS);
}

describe('readinessOf', () => {
  it('is not ready while not accepting, nor while the store fails its ping; ready otherwise, with the warnings if any', async () => {
    let accepting = false;
    let failing = false;
    let warnings: string[] = [];
    const ready = readinessOf(
      () => accepting,
      {
        ping: async () => {
          if (failing) throw new Error('database is locked');
        },
      },
      async () => warnings,
    );
    expect(await ready()).toEqual({ ready: false, reason: 'starting or shutting down' });
    accepting = true;
    expect(await ready()).toEqual({ ready: true });
    warnings = ['subscription "main" silent for 2h'];
    expect(await ready()).toEqual({ ready: true, warnings: ['subscription "main" silent for 2h'] });
    failing = true;
    expect(await ready()).toEqual({ ready: false, reason: 'store: database is locked' });
  });
});

describe('createConnectorNames', () => {
  it('updates the list and the set in place, so readers that hold them from the start see the new names', () => {
    const names = createConnectorNames(config({ a: { type: 'file', path: '/tmp/a.jsonl' }, b: { type: 'file', path: '/tmp/b.jsonl' } }));
    const { list, known } = names;
    expect(list).toEqual(['a', 'b']);
    names.update(config({ b: { type: 'file', path: '/tmp/b.jsonl' }, c: { type: 'file', path: '/tmp/c.jsonl' } }));
    expect(list).toEqual(['b', 'c']);
    expect([...known]).toEqual(['b', 'c']);
    expect(names.list).toBe(list);
    expect(names.known).toBe(known);
  });
});

/** A server on 127.0.0.1 that never answers: a request to it stays in flight until its connection is closed. */
async function silentServer(): Promise<{ server: Server; received: () => number }> {
  let received = 0;
  const server = createServer(() => void received++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, received: () => received };
}

/** Sends a request that stays in flight; resolves once its connection is gone. */
function hold(server: Server): Promise<void> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET' }, () => resolve());
    req.on('error', () => resolve());
    req.end();
  });
}

/** Parts that record, in `events`, what was stopped and what the state was when it was. */
function recordingParts(servers: Server[], timeoutMs: number) {
  const events: string[] = [];
  const state: ServiceState = { accepting: true, closed: false };
  const log: string[] = [];
  const listening = () => servers.map((server) => (server.listening ? 'open' : 'closed')).join(',');
  let graceMs = -1;
  const parts: ShutdownParts = {
    timeoutMs,
    state,
    reloader: { close: async () => void events.push(`reloader accepting=${state.accepting} servers=${listening()}`) },
    servers,
    background: [
      () => void events.push(`watcher closed servers=${listening()}`),
      ...['pruner', 'missed', 'summaries'].map((name) => async () => {
        events.push(`${name} servers=${listening()}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push(`${name} stopped`);
      }),
    ],
    dispatcher: {
      stop: async (grace) => {
        graceMs = grace;
        events.push(`dispatcher closed=${state.closed}`);
      },
    },
    store: { close: async () => void events.push(`store closed=${state.closed}`) },
    logger: pino({ level: 'info' }, { write: (line: string) => void log.push((JSON.parse(line) as { msg: string }).msg) }),
  };
  return { parts, events, state, log, graceMs: () => graceMs };
}

describe('shutDown', () => {
  it('refuses webhooks first, finishes the reload, closes the listeners, stops the background work one by one, then the sends, then the store', async () => {
    const servers = [(await silentServer()).server, (await silentServer()).server];
    const { parts, events, state, log } = recordingParts(servers, 5_000);
    await shutDown(parts);
    expect(events).toEqual([
      'reloader accepting=false servers=open,open',
      'watcher closed servers=closed,closed',
      'pruner servers=closed,closed',
      'pruner stopped',
      'missed servers=closed,closed',
      'missed stopped',
      'summaries servers=closed,closed',
      'summaries stopped',
      'dispatcher closed=false',
      'store closed=true',
    ]);
    expect(state).toEqual({ accepting: false, closed: true });
    expect(log).toEqual(['shutting down', 'stopped']);
  });

  it('spends one budget: a request in flight is cut off when it is over, and the sends get only what is left', async () => {
    const silent = await silentServer();
    const held = hold(silent.server);
    await waitFor(() => silent.received() === 1, { what: 'the request to arrive' });
    const { parts, graceMs } = recordingParts([silent.server], 1_500);
    const began = Date.now();
    await shutDown(parts);
    await held;
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_400);
    expect(graceMs()).toBeLessThan(500);

    const idle = await silentServer();
    const quick = recordingParts([idle.server], 1_500);
    await shutDown(quick.parts);
    expect(quick.graceMs()).toBeGreaterThan(500);
  });
});
