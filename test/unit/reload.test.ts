import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig, type BridgeConfig } from '../../src/config/load.js';
import type { DispatchTarget } from '../../src/dispatch/dispatcher.js';
import { BridgeError, ConfigError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import { createReloader, handOver, planConnectors, readNext, refusedKeys, unsettledWithin, type ReloadDeps } from '../../src/reload.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-reload-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(overrides: Record<string, unknown> = {}): BridgeConfig {
  return parseConfig(
    YAML.stringify({
      sources: [{ name: 'main', verify: { hmac: { secrets: ['s1'] } } }],
      connectors: {
        events: { type: 'file', path: '/tmp/events.jsonl' },
        crm: { type: 'http', url: 'http://crm.example/calls/{subject}', headers: { 'X-A': '1', 'X-B': '2' } },
      },
      ...overrides,
    }),
    {},
    CONNECTORS,
  );
}

describe('planConnectors', () => {
  it('keeps a connector whose options are the same (key order aside), replaces a changed one, adds and removes by name', () => {
    const running = config();
    const next = config({
      connectors: {
        crm: { headers: { 'X-B': '2', 'X-A': '1' }, url: 'http://crm.example/calls/{subject}', type: 'http' },
        events: { type: 'file', path: '/tmp/events.jsonl', dispatch: { max_attempts: 3 } },
        extra: { type: 'file', path: '/tmp/extra.jsonl' },
      },
    });
    expect(planConnectors(running, next)).toEqual({ added: ['extra'], replaced: ['events'], removed: [], kept: ['crm'] });
    expect(planConnectors(next, running)).toEqual({ added: [], replaced: ['events'], removed: ['extra'], kept: ['crm'] });
  });
});

describe('refusedKeys', () => {
  it('names each section that cannot change live; sources, routes and connectors can', () => {
    const running = config();
    expect(refusedKeys(running, config({ routes: [{ name: 'all', to: 'events' }], sources: [{ name: 'other', verify: { none: true } }] }))).toEqual([]);
    expect(refusedKeys(running, config({ server: { port: 9999 }, log: { level: 'debug' }, dispatch: { poll_interval: '5s' } }))).toEqual(['server.port', 'log.level', 'dispatch.poll_interval']);
    expect(refusedKeys(running, config({ store: { path: '/elsewhere.db' }, admin: { token: 'a-token-of-16-chars-or-more' }, lifecycle: { missed_call_grace: '1s' } }))).toEqual(['store.path', 'admin.token', 'lifecycle.missed_call_grace']);
  });
});

describe('${file:...} in the config', () => {
  const text = (path: string) => `sources:\n  - name: main\n    verify: { hmac: { secrets: ["\${file:${path}}"] } }\n`;

  it('is the file content without its trailing line break', () => {
    const path = join(dir, 'secret');
    writeFileSync(path, 'whsec_from_file\n');
    expect(parseConfig(text(path), {}, CONNECTORS).sources[0]!.verify.hmac!.secrets).toEqual(['whsec_from_file']);
  });

  it('a missing or empty file is an issue naming the key path and the file', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    for (const path of [join(dir, 'absent'), empty]) {
      let error: unknown;
      try {
        parseConfig(text(path), {}, CONNECTORS);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe('CONFIG_INVALID');
      expect(JSON.stringify((error as ConfigError).issues)).toContain('sources[0].verify.hmac.secrets[0]');
      expect(JSON.stringify((error as ConfigError).issues)).toContain(path);
    }
  });
});

/** A target the reloader hands to the dispatcher as it is; nothing here sends. */
function target(name: string): DispatchTarget {
  return { connector: { name, start: async () => {}, send: async () => [], stop: async () => {}, probe: async () => ({ ok: true }) }, batchSize: 1, maxPerCall: 1 };
}

type Built = { connectors: Map<string, DispatchTarget> };

/** A reloader over a real metrics registry, a recording dispatcher and `load`; `log` holds what it logged. */
function reloaderOn(load: ReloadDeps<Built>['load'], overrides: Partial<ReloadDeps<Built>> = {}) {
  const metrics = createMetrics({ defaults: false });
  const log: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line) as Record<string, unknown>) });
  const calls: string[] = [];
  const reloader = createReloader<Built>({
    running: config(),
    ...(load ? { load } : {}),
    logger,
    metrics,
    store: { pendingStats: async () => [] },
    dispatcher: {
      put: async (name) => void calls.push(`put ${name}`),
      remove: async (name) => void calls.push(`remove ${name}`),
    },
    build: (_next, names) => ({ connectors: new Map(names.map((name) => [name, target(name)])) }),
    swap: () => void calls.push('swap'),
    now: () => 1_700_000_000_000,
    ...overrides,
  });
  const counted = async () => {
    const values = (await metrics.registry.getSingleMetric('audian_bridge_config_reloads_total')!.get()).values;
    return Object.fromEntries(values.map((value) => [String(value.labels.outcome), value.value]));
  };
  return { reloader, metrics, log, calls, counted };
}

describe('readNext', () => {
  it('is the next config when the file is good and changes nothing live-only', async () => {
    const next = config({ routes: [{ name: 'all', to: 'events' }] });
    expect(await readNext(async () => next, config())).toEqual({ next });
  });

  it('a ConfigError is an invalid file, with its code and issues', async () => {
    const error = new ConfigError([{ path: 'sources', code: 'CONFIG_INVALID', message: 'required' }], 'CONFIG_NOT_FOUND');
    expect(await readNext(async () => { throw error; }, config())).toEqual({
      failure: { outcome: 'invalid', code: 'CONFIG_NOT_FOUND', message: error.message, issues: error.issues },
    });
  });

  it('a live-only key changed is refused, one CONFIG_NOT_RELOADABLE issue per key', async () => {
    const read = await readNext(async () => config({ server: { port: 9999 }, log: { level: 'debug' } }), config());
    expect(read).toMatchObject({ failure: { outcome: 'refused', code: 'CONFIG_NOT_RELOADABLE' } });
    expect(('failure' in read ? read.failure.issues : []).map((issue) => (issue as { path: string; code: string }).path)).toEqual(['server.port', 'log.level']);
  });

  it('any other error is thrown', async () => {
    await expect(readNext(async () => { throw new TypeError('boom'); }, config())).rejects.toThrow(TypeError);
  });
});

describe('handOver', () => {
  it('starts added connectors before the swap, replaced ones after it, and removes last; nothing is waited for', () => {
    const calls: string[] = [];
    const never = new Promise<void>(() => {});
    const plan = { added: ['a1', 'a2'], replaced: ['r1'], removed: ['x1'], kept: ['k1'] };
    const built = { connectors: new Map(['a1', 'a2', 'r1'].map((name) => [name, target(name)])) };
    const { starts, removals } = handOver(
      {
        put: (name, given) => (calls.push(`put ${name} ${given.connector.name}`), never),
        remove: (name) => (calls.push(`remove ${name}`), never),
      },
      (swapped) => void calls.push(`swap ${[...swapped.connectors.keys()].join(',')}`),
      plan,
      built,
      config(),
    );
    expect(calls).toEqual(['put a1 a1', 'put a2 a2', 'swap a1,a2,r1', 'put r1 r1', 'remove x1']);
    expect([...starts.keys()]).toEqual(['a1', 'a2', 'r1']);
    expect(removals).toHaveLength(1);
  });
});

describe('unsettledWithin', () => {
  it('names the starts still pending after the wait; a failed start has settled; the others are not named', async () => {
    const starts = new Map<string, Promise<unknown>>([
      ['ok', Promise.resolve()],
      ['hangs', new Promise(() => {})],
      ['failed', Promise.reject(new Error('refused'))],
    ]);
    expect(await unsettledWithin(starts, [new Promise(() => {})], 50)).toEqual(['hangs']);
  });

  it('answers as soon as everything has settled, not after the whole wait', async () => {
    const began = Date.now();
    expect(await unsettledWithin(new Map([['ok', Promise.resolve()]]), [Promise.resolve()], 10_000)).toEqual([]);
    expect(Date.now() - began).toBeLessThan(5_000);
  });
});

describe('createReloader', () => {
  it('without a way to read the file answers NOT_IMPLEMENTED; once closed, SHUTTING_DOWN', async () => {
    const without = reloaderOn(undefined);
    expect(await without.reloader.reload('api')).toMatchObject({ reloaded: false, error: { code: 'NOT_IMPLEMENTED' } });
    const { reloader } = reloaderOn(async () => config());
    await reloader.close();
    expect(await reloader.reload('api')).toMatchObject({ reloaded: false, error: { code: 'SHUTTING_DOWN' } });
  });

  it('counts each outcome from 0 and sets the last success time at start and at each applied reload', async () => {
    let now = 1_000_000;
    let next: () => BridgeConfig = () => config({ server: { port: 9999 } });
    const { reloader, metrics, counted } = reloaderOn(async () => next(), { now: () => now });
    const lastSuccess = async () => (await metrics.registry.getSingleMetric('audian_bridge_config_last_reload_success_timestamp_seconds')!.get()).values[0]!.value;
    expect(await counted()).toEqual({ applied: 0, invalid: 0, refused: 0 });
    expect(await lastSuccess()).toBe(1_000);
    now = 2_000_000;
    expect(await reloader.reload('api')).toMatchObject({ reloaded: false, error: { code: 'CONFIG_NOT_RELOADABLE' } });
    next = () => { throw new ConfigError([{ path: 'routes', code: 'CONFIG_INVALID', message: 'bad' }]); };
    expect(await reloader.reload('api')).toMatchObject({ reloaded: false, error: { code: 'CONFIG_INVALID' } });
    expect(await lastSuccess()).toBe(1_000);
    next = () => config({ routes: [{ name: 'all', to: 'events' }] });
    expect(await reloader.reload('api')).toMatchObject({ reloaded: true, routes: ['all'] });
    expect(await counted()).toEqual({ applied: 1, invalid: 1, refused: 1 });
    expect(await lastSuccess()).toBe(2_000);
  });

  it('a builder that throws makes the file invalid, at the path (root), and nothing is put in force', async () => {
    const { reloader, calls, counted } = reloaderOn(async () => config({ connectors: { other: { type: 'file', path: '/tmp/other.jsonl' } } }), {
      build: () => { throw new BridgeError('CONFIG_INVALID', 'cannot build'); },
    });
    const answer = await reloader.reload('api');
    expect(answer).toMatchObject({ reloaded: false, error: { code: 'CONFIG_INVALID', issues: [{ path: '(root)', code: 'CONFIG_INVALID' }] } });
    expect(calls).toEqual([]);
    expect(await counted()).toMatchObject({ invalid: 1, applied: 0 });
  });

  it('runs reloads one at a time, and one that throws does not stop the next', async () => {
    let release: () => void = () => {};
    const loads: string[] = [];
    let first = true;
    const { reloader } = reloaderOn(async () => {
      loads.push(first ? 'first' : 'later');
      if (first) {
        first = false;
        await new Promise<void>((resolve) => (release = resolve));
        throw new TypeError('unexpected');
      }
      return config();
    });
    const one = reloader.reload('api');
    const two = reloader.reload('api');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(loads).toEqual(['first']);
    release();
    await expect(one).rejects.toThrow(TypeError);
    expect(await two).toMatchObject({ reloaded: true });
    expect(loads).toEqual(['first', 'later']);
  });

  it('names a connector that has not started within the wait, in the answer and in a warning', async () => {
    const { reloader, log } = reloaderOn(async () => config({ connectors: { events: { type: 'file', path: '/tmp/events.jsonl' }, slow: { type: 'file', path: '/tmp/slow.jsonl' } } }), {
      dispatcher: { put: (name) => (name === 'slow' ? new Promise(() => {}) : Promise.resolve()), remove: async () => {} },
      handoverWaitMs: 50,
    });
    const answer = await reloader.reload('api');
    expect(answer).toMatchObject({ reloaded: true, starting: ['slow'], connectors: { added: ['slow'], removed: ['crm'], kept: ['events'] } });
    expect(log.filter((line) => line.msg === 'connector not started yet; its deliveries wait in the outbox until it starts')).toMatchObject([{ connector: 'slow', waitedMs: 50 }]);
  });
});
