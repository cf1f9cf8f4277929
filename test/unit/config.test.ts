import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { loadConfig, loadStoreConfig, parseConfig, reloadConfig } from '../../src/config/load.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

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

function issuesOf(text: string, env: Record<string, string> = {}): readonly ConfigIssue[] {
  try {
    parseConfig(text, env, CONNECTORS);
  } catch (err) {
    if (err instanceof ConfigError) {
      expect(err.code).toBe('CONFIG_INVALID');
      return err.issues;
    }
    throw err;
  }
  throw new Error('the config was accepted');
}

/** `path code` of each issue, the stable part tests compare. */
function codesOf(text: string, env: Record<string, string> = {}): string[] {
  return issuesOf(text, env).map((issue) => `${issue.path} ${issue.code}`);
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
      batch_window: 20,
    });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 8081, ui: true, session_ttl: 12 * 3600_000, trust_proxy: false });
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

  it('names the key path and code of every problem at once', () => {
    const codes = codesOf(`
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
    expect(codes).toEqual(
      expect.arrayContaining([
        'server.port CONFIG_BAD_VALUE',
        'server.bogus CONFIG_UNKNOWN_KEY',
        'store.dedupe_ttl CONFIG_BAD_VALUE',
        'sources[0].verify.hmac.secrets CONFIG_BAD_VALUE',
        'sources[1].verify CONFIG_BAD_VALUE',
        'connectors.out.path CONFIG_MISSING_KEY',
        'connectors.k.type CONFIG_BAD_VALUE',
        'routes[0].match.dialect CONFIG_BAD_VALUE',
        'routes[0].when CONFIG_BAD_VALUE',
      ]),
    );
  });

  it('checks that routes name configured connectors, in the same pass as every other problem', () => {
    expect(codesOf(minimal.replace('    to: out', '    to: [out, nowhere]'))).toEqual(['routes[0].to[1] CONFIG_UNKNOWN_REFERENCE']);
    expect(codesOf(minimal.replace('    to: out', '    to: nowhere').replace('name: all', 'name: all\n    match: { dialect: klingon }'))).toEqual([
      'routes[0].match.dialect CONFIG_BAD_VALUE',
      'routes[0].to CONFIG_UNKNOWN_REFERENCE',
    ]);
  });

  it('reports unset variables with their key path, once per variable', () => {
    expect(codesOf(minimal.replace('secrets: ["s1"]', 'secrets: ["${NOT_SET}"]'))).toEqual(['sources[0].verify.hmac.secrets[0] CONFIG_ENV_MISSING']);
    const twice = issuesOf(`${minimal}server: { host: "\${NOT_SET}" }\n`.replace('secrets: ["s1"]', 'secrets: ["${NOT_SET}"]'));
    expect(twice.map((issue) => `${issue.path} ${issue.code}`)).toEqual(['sources[0].verify.hmac.secrets[0] CONFIG_ENV_MISSING']);
    expect(twice[0]!.message).toContain('NOT_SET');
    expect(twice[0]!.message).toContain('server.host');
  });

  it('lists the allowed values of an enum', () => {
    const [issue] = issuesOf(`${minimal}log: { level: loud }\n`);
    expect(issue).toMatchObject({ path: 'log.level', code: 'CONFIG_BAD_VALUE' });
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) expect(issue!.message).toContain(level);
  });

  it('suggests the nearest key for a misspelt one, also inside a connector', () => {
    const [server] = issuesOf(`${minimal}server: { bodylimit: 2mb }\n`);
    expect(server).toMatchObject({ path: 'server.bodylimit', code: 'CONFIG_UNKNOWN_KEY' });
    expect(server!.message).toContain('`body_limit`');
    const [connector] = issuesOf(minimal.replace('path: ./out.jsonl', 'path: ./out.jsonl, fsnyc: false'));
    expect(connector).toMatchObject({ path: 'connectors.out.fsnyc', code: 'CONFIG_UNKNOWN_KEY' });
    expect(connector!.message).toContain('`fsync`');
  });

  it('refuses a duration without a unit, naming the key and the unit forms', () => {
    for (const value of ['300', '"300"']) {
      const [issue] = issuesOf(minimal.replace('secrets: ["s1"]', `secrets: ["s1"], tolerance: ${value}`));
      expect(issue).toMatchObject({ path: 'sources[0].verify.hmac.tolerance', code: 'CONFIG_BAD_VALUE' });
      expect(issue!.message).toContain('300s');
      expect(issue!.message).toContain('5m');
    }
    expect(codesOf(`${minimal}dispatch: { retry_max: 10 }\n`)).toEqual(['dispatch.retry_max CONFIG_BAD_VALUE']);
    expect(parseConfig(`${minimal}dispatch: { retry_schedule: [0, 5s] }\n`, {}, CONNECTORS).dispatch.retry_schedule).toEqual([0, 5_000]);
    expect(parseConfig(minimal.replace('secrets: ["s1"]', 'secrets: ["s1"], tolerance: 5m'), {}, CONNECTORS).sources[0]!.verify.hmac!.tolerance).toBe(300_000);
  });

  it('rejects duplicate source names, paths and route names', () => {
    const codes = codesOf(`
sources:
  - { name: a, path: /hook, verify: { none: true } }
  - { name: a, path: /hook, verify: { none: true } }
  - { name: m, path: /metrics, verify: { none: true } }
connectors: { out: { type: file, path: x } }
routes:
  - { name: r, to: out }
  - { name: r, to: out }
`);
    expect(codes).toEqual(['sources[1].name CONFIG_DUPLICATE', 'sources[1].path CONFIG_DUPLICATE', 'sources[2].path CONFIG_BAD_VALUE', 'routes[1].name CONFIG_DUPLICATE']);
  });

  it('refuses source paths the router cannot tell apart: case, a trailing slash; reserved paths in any case', () => {
    const codes = codesOf(`
sources:
  - { name: lab, path: /Webhooks/Audian, verify: { none: true } }
  - { name: main, path: /webhooks/audian, verify: { hmac: { secrets: [s1] } } }
  - { name: slash, path: /webhooks/audian/, verify: { none: true } }
  - { name: health, path: /HEALTHZ, verify: { none: true } }
  - { name: metrics, path: /Metrics/, verify: { none: true } }
  - { name: other, path: /webhooks/audian2, verify: { none: true } }
connectors: { out: { type: file, path: x } }
`);
    expect(codes).toEqual(['sources[1].path CONFIG_DUPLICATE', 'sources[2].path CONFIG_DUPLICATE', 'sources[3].path CONFIG_BAD_VALUE', 'sources[4].path CONFIG_BAD_VALUE']);
    const [issue] = issuesOf('sources: [{ name: a, path: /Hook, verify: { none: true } }, { name: b, path: /hook, verify: { none: true } }]\n');
    expect(issue!.message).toContain('/Hook');
  });

  it('names unknown connector options by their key path', () => {
    expect(codesOf(minimal.replace('out: { type: file, path: ./out.jsonl }', 'out: { type: file, path: ./out.jsonl, rotate: daily }'))).toEqual(['connectors.out.rotate CONFIG_UNKNOWN_KEY']);
  });

  it('rejects YAML that is not YAML, and duplicate keys', () => {
    expect(codesOf('server: [')).toEqual(['(root) CONFIG_SYNTAX']);
    expect(codesOf('server: {}\nserver: {}\n')).toEqual(['(root) CONFIG_SYNTAX']);
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
    expect(codesOf(withCrm.replace('max_attempts: 40', 'max_attempts: 0, retries: 3')).sort()).toEqual([
      'connectors.crm.dispatch.max_attempts CONFIG_BAD_VALUE',
      'connectors.crm.dispatch.retries CONFIG_UNKNOWN_KEY',
    ]);
    expect(codesOf(withCrm.replace('retry_schedule: [1s, 1m]', 'retry_schedule: [1s, 60]'))).toEqual(['connectors.crm.dispatch.retry_schedule[1] CONFIG_BAD_VALUE']);
  });

  it('retry_initial / retry_max become an exponential schedule; giving both styles is refused', () => {
    const exponential = parseConfig(`${minimal}dispatch: { retry_initial: 1s, retry_max: 10s }\n`, {}, CONNECTORS);
    expect(exponential.dispatch.retry_schedule).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
    expect(codesOf(`${minimal}dispatch: { retry_schedule: [1s], retry_max: 10s }\n`)).toEqual(['dispatch.retry_schedule CONFIG_BAD_VALUE']);
    expect(codesOf(`${minimal}dispatch: { retry_initial: 10s, retry_max: 1s }\n`)).toEqual(['dispatch.retry_max CONFIG_BAD_VALUE']);
  });

  it('admin stays off without a token, refuses a short one, and an empty ${VAR:-} keeps it off', () => {
    expect(parseConfig(`${minimal}admin: { token: "\${ADMIN_TOKEN:-}" }\n`, {}, CONNECTORS).admin.token).toBe('');
    expect(codesOf(`${minimal}admin: { token: short }\n`)).toEqual(['admin.token CONFIG_BAD_VALUE']);
    const on = parseConfig(`${minimal}admin: { port: 0, token: "\${ADMIN_TOKEN}" }\nserver: { metrics: false }\n`, { ADMIN_TOKEN: 'x'.repeat(32) }, CONNECTORS);
    expect(on.admin).toEqual({ host: '127.0.0.1', port: 0, token: 'x'.repeat(32), ui: true, session_ttl: 12 * 3600_000, trust_proxy: false });
    expect(on.server.metrics).toBe(false);
  });
});

describe('loadConfig lookup order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), minimal.replace('name: main', 'name: local'));
  writeFileSync(join(dir, 'flag.yaml'), minimal.replace('name: main', 'name: flag'));
  writeFileSync(join(dir, 'env.yaml'), minimal.replace('name: main', 'name: env'));
  const nameOf = async (loaded: ReturnType<typeof loadConfig>) => (await loaded).config.sources[0]!.name;

  it('--config, then AUDIAN_BRIDGE_CONFIG, then ./config.yaml, then the embedded default', async () => {
    expect(await nameOf(loadConfig({ connectors: CONNECTORS, flag: 'flag.yaml', env: { AUDIAN_BRIDGE_CONFIG: 'env.yaml' }, cwd: dir }))).toBe('flag');
    expect(await nameOf(loadConfig({ connectors: CONNECTORS, env: { AUDIAN_BRIDGE_CONFIG: 'env.yaml' }, cwd: dir }))).toBe('env');
    expect(await nameOf(loadConfig({ connectors: CONNECTORS, env: {}, cwd: dir }))).toBe('local');
    const fallback = await loadConfig({ connectors: CONNECTORS, env: {}, cwd: tmpdir() === dir ? '/' : join(dir, '..') });
    expect(fallback.origin).toBe('embedded default');
  });

  it('a missing --config file is an error, not a silent fallback', async () => {
    await expect(loadConfig({ connectors: CONNECTORS, flag: 'nope.yaml', env: {}, cwd: dir })).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND' }));
  });

  it('the embedded default verifies HMAC when AUDIAN_WEBHOOK_SECRET is set, and is explicit about none otherwise', async () => {
    const signed = (await loadConfig({ connectors: CONNECTORS, env: { AUDIAN_WEBHOOK_SECRET: 'sek' }, cwd: '/' })).config;
    expect(signed.sources[0]!.verify.hmac?.secrets).toEqual(['sek']);
    expect(signed.sources[0]!.path).toBe('/webhooks/audian');
    expect(signed.server.port).toBe(8080);
    const unsigned = (await loadConfig({ connectors: CONNECTORS, env: {}, cwd: '/' })).config;
    expect(unsigned.sources[0]!.verify.none).toBe(true);
    expect(Object.values(unsigned.connectors).map((connector) => connector.type).sort()).toEqual(['file', 'transcript']);
    expect((await loadConfig({ connectors: CONNECTORS, env: { PORT: '9999' }, cwd: '/' })).config.server.port).toBe(9999);
  });
});

describe('reloadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-reload-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file found at start again, even when ./config.yaml was found implicitly; gone, it fails and never falls back to the default', async () => {
    writeFileSync(join(dir, 'config.yaml'), minimal);
    const loaded = await loadConfig({ connectors: CONNECTORS, env: {}, cwd: dir });
    expect(loaded.file).toBe(join(dir, 'config.yaml'));
    writeFileSync(join(dir, 'config.yaml'), minimal.replace('name: main', 'name: changed'));
    expect((await reloadConfig(loaded, { env: {}, connectors: CONNECTORS })).config.sources[0]!.name).toBe('changed');
    rmSync(join(dir, 'config.yaml'));
    await expect(reloadConfig(loaded, { env: {}, connectors: CONNECTORS })).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND' }));
    mkdirSync(join(dir, 'config.yaml'));
    await expect(reloadConfig(loaded, { env: {}, connectors: CONNECTORS })).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND' }));
  });

  it('a process started on the embedded default keeps it', async () => {
    const loaded = await loadConfig({ connectors: CONNECTORS, env: {}, cwd: '/' });
    expect(loaded.file).toBeUndefined();
    expect((await reloadConfig(loaded, { env: {}, connectors: CONNECTORS })).origin).toBe('embedded default');
  });
});

describe('${file:...} that is not a regular file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-secret-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const withSecret = (file: string) => minimal.replace('secrets: ["s1"]', `secrets: ["\${file:${file}}"]`);

  it('is refused at once, naming the key path and what it is, whether read by the loader or synchronously', async () => {
    writeFileSync(join(dir, 'config.yaml'), withSecret(fifo));
    const started = Date.now();
    const error = await loadConfig({ connectors: CONNECTORS, env: {}, cwd: dir }).catch((err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([expect.objectContaining({ path: 'sources[0].verify.hmac.secrets[0]', code: 'CONFIG_BAD_VALUE' })]);
    expect((error as ConfigError).issues[0]!.message).toMatch(/FIFO/);
    for (const [file, kind] of [[fifo, /FIFO/], [dir, /directory/], ['/dev/zero', /device/]] as const) {
      const [issue] = issuesOf(withSecret(file));
      expect([issue!.path, issue!.code]).toEqual(['sources[0].verify.hmac.secrets[0]', 'CONFIG_BAD_VALUE']);
      expect(issue!.message).toMatch(kind);
    }
  });

  it('a config file that is a FIFO is refused at once too', async () => {
    await expect(loadConfig({ connectors: CONNECTORS, flag: fifo, env: {}, cwd: dir })).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND' }));
  });
});

describe('values read from files and the environment in messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-provenance-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secret = join(dir, 'webhook-secret');
  writeFileSync(secret, 'whsec_do_not_print_me\n');

  it('a secret file named under a key that is not a secret: the message names the key and the file, never the content', () => {
    const [issue] = issuesOf(`${minimal}log: { level: "\${file:${secret}}" }\n`);
    expect([issue!.path, issue!.code]).toEqual(['log.level', 'CONFIG_BAD_VALUE']);
    expect(issue!.message).toContain(`file ${secret}`);
    expect(issue!.message).not.toContain('whsec_do_not_print_me');
  });

  it('a variable\'s value is not repeated either, also in a list the connector splits; a value written in the file is', () => {
    const kafka = minimal.replace('out: { type: file, path: ./out.jsonl }', 'out: { type: kafka, brokers: "${BROKERS}", topic: t }');
    const [issue] = issuesOf(kafka, { BROKERS: 'kafka-1:9092,sk_live_do_not_print' });
    expect(issue!.path).toBe('connectors.out.brokers');
    expect(issue!.message).toContain('environment variable BROKERS');
    expect(issue!.message).not.toContain('sk_live_do_not_print');
    const [port] = issuesOf(`${minimal}server: { port: "\${PORT}" }\n`, { PORT: 'sk_port_secret' });
    expect(port!.message).not.toContain('sk_port_secret');
    const [literal] = issuesOf(`${minimal}log: { level: loud }\n`);
    expect(literal!.message).toContain('loud');
  });
});

describe('loadStoreConfig (the operator commands)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-only-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('checks and interpolates the store section only: variables and files named elsewhere need not exist', async () => {
    writeFileSync(
      join(dir, 'config.yaml'),
      `${minimal}store: { path: "\${DATA_DIR}/bridge.db" }\nadmin: { token: "\${ADMIN_TOKEN}" }\n`.replace('secrets: ["s1"]', 'secrets: ["${AUDIAN_WEBHOOK_SECRET}", "${file:/nonexistent/secret}"]'),
    );
    const loaded = await loadStoreConfig({ env: { DATA_DIR: '/srv' }, cwd: dir });
    expect(loaded.store.path).toBe('/srv/bridge.db');
    expect(loaded.connectors).toEqual(['out']);
    expect(loaded.origin).toBe(join(dir, 'config.yaml'));
    await expect(loadConfig({ connectors: CONNECTORS, env: { DATA_DIR: '/srv' }, cwd: dir })).rejects.toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('still names the problems of the store section by key path', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'store: { url: "mysql://x", pool: 3 }\n');
    const error = await loadStoreConfig({ flag: 'bad.yaml', env: {}, cwd: dir }).catch((err: unknown) => err);
    expect((error as ConfigError).issues.map((issue) => `${issue.path} ${issue.code}`).sort()).toEqual(['store.pool CONFIG_UNKNOWN_KEY', 'store.url CONFIG_BAD_VALUE']);
  });
});

describe('lifecycle', () => {
  it('defaults max_call_age to 4h and transcript_event to off; max_call_age may exceed dedupe_ttl (the store keeps a call until its summary)', () => {
    expect(parseConfig(minimal, {}, CONNECTORS).lifecycle).toMatchObject({ max_call_age: 4 * 3600_000, transcript_event: false });
    expect(parseConfig(`${minimal}lifecycle: { max_call_age: 30m, transcript_event: true }\n`, {}, CONNECTORS).lifecycle).toMatchObject({ max_call_age: 1_800_000, transcript_event: true });
    expect(parseConfig(`${minimal}lifecycle: { max_call_age: 8d }\n`, {}, CONNECTORS).lifecycle.max_call_age).toBe(8 * 24 * 3600_000);
  });

  it('refuses a bare max_call_age, a transcript_event that is not a boolean and a misspelt key, by path and code', () => {
    expect(codesOf(`${minimal}lifecycle: { max_call_age: 30 }\n`)).toEqual(['lifecycle.max_call_age CONFIG_BAD_VALUE']);
    expect(codesOf(`${minimal}lifecycle: { transcript_event: maybe }\n`)).toEqual(['lifecycle.transcript_event CONFIG_BAD_VALUE']);
    expect(codesOf(`${minimal}lifecycle: { max_call_ag: 1h }\n`)).toEqual(['lifecycle.max_call_ag CONFIG_UNKNOWN_KEY']);
  });

  it('keeps the lifecycle defaults when the section gives only some keys', () => {
    expect(parseConfig(`${minimal}lifecycle: { transcript_event: "true" }\n`, {}, CONNECTORS).lifecycle).toEqual({
      missed_call_grace: 5_000,
      unknown_direction: 'outbound',
      max_call_age: 4 * 3600_000,
      transcript_event: true,
    });
  });
});

describe('call connector options', () => {
  const withConnector = (options: string) => minimal.replace('out: { type: file, path: ./out.jsonl }', `out: ${options}`);

  it('refuses a stale_guard that is not a boolean and a transcript naming outside call_id and date, by path and code', () => {
    expect(codesOf(withConnector('{ type: http, url: "https://crm.example/x", stale_guard: maybe }'))).toEqual(['connectors.out.stale_guard CONFIG_BAD_VALUE']);
    expect(codesOf(withConnector('{ type: transcript, dir: ./t, naming: week }'))).toEqual(['connectors.out.naming CONFIG_BAD_VALUE']);
  });

  it('defaults stale_guard to off and naming to call_id', () => {
    expect(parseConfig(withConnector('{ type: http, url: "https://crm.example/x" }'), {}, CONNECTORS).connectors.out).toMatchObject({ stale_guard: false });
    expect(parseConfig(withConnector('{ type: transcript, dir: ./t }'), {}, CONNECTORS).connectors.out).toMatchObject({ naming: 'call_id' });
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
