import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const minimal = `
sources:
  - name: main
    verify: { hmac: { secrets: ["s1"] } }
connectors:
  out: { type: file, path: ./out.jsonl }
routes:
  - name: all
    to: out
`;

function issuesOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, env, CONNECTORS);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('parseConfig', () => {
  it('fills defaults', () => {
    const config = parseConfig(minimal, {}, CONNECTORS);
    expect(config.server).toEqual({
      host: '0.0.0.0',
      port: 8080,
      body_limit: 1024 * 1024,
      shutdown_timeout: 10_000,
      request_timeout: 60_000,
      body_timeout: 30_000,
      max_connections: 1024,
      max_inflight_body: 64 * 1024 * 1024,
      metrics: true,
    });
    expect(config.store.dedupe_ttl).toBe(7 * 24 * 3600 * 1000);
    expect(config.store.prune_interval).toBe(15 * 60_000);
    expect(config.dispatch).toEqual({
      retry_schedule: [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 14_400_000],
      max_age: 3 * 24 * 3600 * 1000,
      poll_interval: 1_000,
      send_timeout: 30_000,
    });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(config.sources[0]!.verify.hmac).toEqual({ secrets: ['s1'], tolerance: 300_000 });
    expect(config.routes[0]).toMatchObject({ name: 'all', to: ['out'] });
  });

  it('replaces ${VAR} and ${VAR:-default} after parsing, and $$ is a literal $', () => {
    const config = parseConfig(
      `${minimal}
server: { port: "\${PORT:-9090}", host: "\${HOST}" }
store: { path: "\${DATA:-./d}/b.db" }
`.replace('secrets: ["s1"]', 'secrets: ["${SECRET}", "pa$$word"]'),
      { SECRET: 'from-env', HOST: '127.0.0.1' },
      CONNECTORS,
    );
    expect(config.sources[0]!.verify.hmac!.secrets).toEqual(['from-env', 'pa$word']);
    expect(config.server).toMatchObject({ port: 9090, host: '127.0.0.1' });
    expect(config.store.path).toBe('./d/b.db');
  });

  it('a variable value cannot change the structure of the document', () => {
    const config = parseConfig(minimal.replace('secrets: ["s1"]', 'secrets: ["${SECRET}"]'), { SECRET: '"]\n  evil: { x: 1 }' }, CONNECTORS);
    expect(config.sources[0]!.verify.hmac!.secrets).toEqual(['"]\n  evil: { x: 1 }']);
  });

  it('names the key path of every problem at once', () => {
    const issues = issuesOf(`
server: { port: 70000, bogus: 1 }
store: { dedupe_ttl: "forever" }
sources:
  - name: main
    verify: { hmac: { secrets: [] } }
  - name: two
    verify: { none: true, header: { name: X-Key, value: v } }
connectors:
  out: { type: file }
  k: { type: carrier-pigeon }
routes:
  - name: r
    match: { type: "call.*", dialect: klingon }
    when: "data.("
    to: out
`);
    const text = issues.join('\n');
    expect(text).toMatch(/^server\.port: /m);
    expect(text).toMatch(/^server\.bogus: unknown key/m);
    expect(text).toMatch(/^store\.dedupe_ttl: /m);
    expect(text).toMatch(/^sources\[0\]\.verify\.hmac\.secrets: give at least one secret/m);
    expect(text).toMatch(/^sources\[1\]\.verify: choose exactly one/m);
    expect(text).toMatch(/^connectors\.out\.path: /m);
    expect(text).toMatch(/^connectors\.k\.type: unknown connector type "carrier-pigeon"/m);
    expect(text).toMatch(/^routes\[0\]\.match\.dialect/m);
    expect(text).toMatch(/^routes\[0\]\.when: not a JSONata expression/m);
  });

  it('checks that routes name configured connectors (once the rest is valid)', () => {
    const text = issuesOf(minimal.replace('    to: out', '    to: [out, nowhere]')).join('\n');
    expect(text).toMatch(/^routes\[0\]\.to\[1\]: no connector named "nowhere"/m);
  });

  it('reports unset variables with their key path', () => {
    expect(issuesOf(minimal.replace('secrets: ["s1"]', 'secrets: ["${NOT_SET}"]'))).toContainEqual(expect.stringMatching(/^sources\[0\]\.verify\.hmac\.secrets\[0\]: environment variable NOT_SET is not set/));
  });

  it('rejects duplicate source names, paths and route names', () => {
    const text = issuesOf(`
sources:
  - { name: a, path: /hook, verify: { none: true } }
  - { name: a, path: /hook, verify: { none: true } }
  - { name: m, path: /metrics, verify: { none: true } }
connectors: { out: { type: file, path: x } }
routes:
  - { name: r, to: out }
  - { name: r, to: out }
`).join('\n');
    expect(text).toMatch(/sources\[1\]\.name: .*a/);
    expect(text).toMatch(/sources\[1\]\.path: /);
    expect(text).toMatch(/sources\[2\]\.path: /);
    expect(text).toMatch(/routes\[1\]\.name: /);
  });

  it('names unknown connector options by their key path', () => {
    expect(issuesOf(minimal.replace('out: { type: file, path: ./out.jsonl }', 'out: { type: file, path: ./out.jsonl, rotate: daily }'))).toEqual(['connectors.out.rotate: unknown key']);
  });

  it('rejects YAML that is not YAML, and duplicate keys', () => {
    expect(issuesOf('server: [')[0]).toMatch(/not valid YAML/);
    expect(issuesOf('server: {}\nserver: {}\n')[0]).toMatch(/not valid YAML/);
  });
});

describe('operations keys', () => {
  const crm = `
connectors:
  out: { type: file, path: ./out.jsonl }
  crm:
    type: http
    url: https://crm.example/calls
    dispatch: { retry_schedule: [1s, 1m], max_attempts: 40 }
`;
  const withCrm = minimal.replace(/connectors:\n  out: \{ type: file, path: \.\/out\.jsonl \}\n/, crm);

  it('a connector\'s dispatch key goes to the dispatcher, not to the connector\'s own schema', () => {
    const config = parseConfig(withCrm, {}, CONNECTORS);
    expect(config.connectors.crm).toMatchObject({ type: 'http', dispatch: { retry_schedule: [1_000, 60_000], max_attempts: 40 } });
    expect(config.connectors.out?.dispatch).toBeUndefined();
  });

  it('names unknown keys and bad values under a connector\'s dispatch', () => {
    const issues = issuesOf(withCrm.replace('max_attempts: 40', 'max_attempts: 0, retries: 3'));
    expect(issues.some((issue) => issue.startsWith('connectors.crm.dispatch.retries: unknown key'))).toBe(true);
    expect(issues.some((issue) => issue.startsWith('connectors.crm.dispatch.max_attempts'))).toBe(true);
  });

  it('retry_initial / retry_max become an exponential schedule; giving both styles is refused', () => {
    const exponential = parseConfig(`${minimal}dispatch: { retry_initial: 1s, retry_max: 10s }\n`, {}, CONNECTORS);
    expect(exponential.dispatch.retry_schedule).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
    expect(issuesOf(`${minimal}dispatch: { retry_schedule: [1s], retry_max: 10s }\n`)).toEqual([
      'dispatch.retry_schedule: give retry_schedule or retry_initial/retry_max (exponential), not both',
    ]);
  });

  it('admin stays off without a token, refuses a short one, and an empty ${VAR:-} keeps it off', () => {
    expect(parseConfig(`${minimal}admin: { token: "\${ADMIN_TOKEN:-}" }\n`, {}, CONNECTORS).admin.token).toBe('');
    expect(issuesOf(`${minimal}admin: { token: short }\n`)[0]).toMatch(/^admin\.token: /);
    const on = parseConfig(`${minimal}admin: { port: 0, token: "\${ADMIN_TOKEN}" }\nserver: { metrics: false }\n`, { ADMIN_TOKEN: 'x'.repeat(32) }, CONNECTORS);
    expect(on.admin).toEqual({ host: '127.0.0.1', port: 0, token: 'x'.repeat(32) });
    expect(on.server.metrics).toBe(false);
  });
});

describe('loadConfig lookup order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), minimal.replace('name: main', 'name: local'));
  writeFileSync(join(dir, 'flag.yaml'), minimal.replace('name: main', 'name: flag'));
  writeFileSync(join(dir, 'env.yaml'), minimal.replace('name: main', 'name: env'));
  const nameOf = (loaded: ReturnType<typeof loadConfig>) => loaded.config.sources[0]!.name;

  it('--config, then AUDIAN_BRIDGE_CONFIG, then ./config.yaml, then the embedded default', () => {
    expect(nameOf(loadConfig({ connectors: CONNECTORS, flag: 'flag.yaml', env: { AUDIAN_BRIDGE_CONFIG: 'env.yaml' }, cwd: dir }))).toBe('flag');
    expect(nameOf(loadConfig({ connectors: CONNECTORS, env: { AUDIAN_BRIDGE_CONFIG: 'env.yaml' }, cwd: dir }))).toBe('env');
    expect(nameOf(loadConfig({ connectors: CONNECTORS, env: {}, cwd: dir }))).toBe('local');
    const fallback = loadConfig({ connectors: CONNECTORS, env: {}, cwd: tmpdir() === dir ? '/' : join(dir, '..') });
    expect(fallback.origin).toBe('embedded default');
  });

  it('a missing --config file is an error, not a silent fallback', () => {
    expect(() => loadConfig({ connectors: CONNECTORS, flag: 'nope.yaml', env: {}, cwd: dir })).toThrow(ConfigError);
  });

  it('the embedded default verifies HMAC when AUDIAN_WEBHOOK_SECRET is set, and is explicit about none otherwise', () => {
    const signed = loadConfig({ connectors: CONNECTORS, env: { AUDIAN_WEBHOOK_SECRET: 'sek' }, cwd: '/' }).config;
    expect(signed.sources[0]!.verify.hmac?.secrets).toEqual(['sek']);
    expect(signed.sources[0]!.path).toBe('/webhooks/audian');
    expect(signed.server.port).toBe(8080);
    const unsigned = loadConfig({ connectors: CONNECTORS, env: {}, cwd: '/' }).config;
    expect(unsigned.sources[0]!.verify.none).toBe(true);
    expect(Object.values(unsigned.connectors).map((connector) => connector.type).sort()).toEqual(['file', 'transcript']);
    expect(loadConfig({ connectors: CONNECTORS, env: { PORT: '9999' }, cwd: '/' }).config.server.port).toBe(9999);
  });
});

describe('lifecycle', () => {
  it('defaults max_call_age to 4h and transcript_event to off; max_call_age may exceed dedupe_ttl (the store keeps a call until its summary)', () => {
    expect(parseConfig(minimal, {}, CONNECTORS).lifecycle).toMatchObject({ max_call_age: 4 * 3600_000, transcript_event: false });
    expect(parseConfig(`${minimal}lifecycle: { max_call_age: 30m, transcript_event: true }\n`, {}, CONNECTORS).lifecycle).toMatchObject({ max_call_age: 1_800_000, transcript_event: true });
    expect(parseConfig(`${minimal}lifecycle: { max_call_age: 8d }\n`, {}, CONNECTORS).lifecycle.max_call_age).toBe(8 * 24 * 3600_000);
  });
});

describe('config.example.yaml', () => {
  it('is a valid configuration', () => {
    const text = readFileSync(fileURLToPath(new URL('../../config.example.yaml', import.meta.url)), 'utf8');
    const config = parseConfig(text, { AUDIAN_WEBHOOK_SECRET: 's', VOICE_WEBHOOK_KEY: 'k', SLACK_BOT_TOKEN: 'xoxb-1', CRM_TOKEN: 't' }, CONNECTORS);
    expect(Object.keys(config.connectors).sort()).toEqual(['archive', 'crm', 'events-kafka', 'slack-missed', 'transcripts']);
    expect(config.routes).toHaveLength(5);
  });
});
