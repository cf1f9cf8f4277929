import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig, type BridgeConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { planConnectors, refusedKeys } from '../../src/reload.js';

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
    expect(refusedKeys(running, config({ server: { port: 9999 }, log: { level: 'debug' }, dispatch: { poll_interval: '5s' } }))).toEqual(['server', 'log', 'dispatch']);
    expect(refusedKeys(running, config({ store: { path: '/elsewhere.db' }, admin: { token: 'a-token-of-16-chars-or-more' }, lifecycle: { missed_call_grace: '1s' } }))).toEqual(['store', 'admin', 'lifecycle']);
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
