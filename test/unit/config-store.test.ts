import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { describeStore, storeOptionsOf } from '../../src/config/store.js';

/** The store keys: `url` selects PostgreSQL, `tls` and `pool_size` configure its connections. */

const minimal = `
sources: [{ name: main, verify: { none: true } }]
`;
const parse = (store: string, env: Record<string, string> = {}) => parseConfig(`${minimal}store: ${store}\n`, env, CONNECTORS);

function codesOf(store: string, env: Record<string, string> = {}): string[] {
  try {
    parse(store, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((issue: ConfigIssue) => `${issue.path} ${issue.code}`);
    throw err;
  }
  throw new Error('the config was accepted');
}

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-config-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIBdummy${what.replace(/ /g, '')}\n-----END ${what}-----\n`;

describe('store.url', () => {
  it('is absent by default: SQLite at store.path, pool_size 10', () => {
    const { store } = parseConfig(minimal, {}, CONNECTORS);
    expect(store.url).toBeUndefined();
    expect(store.tls).toBeUndefined();
    expect(store.pool_size).toBe(10);
    expect(store.path).toBe('./data/bridge.db');
  });

  it.each(['postgres://bridge:secret@db.internal:5432/bridge', 'postgresql://db/bridge?application_name=audian', 'postgres:///bridge?host=/var/run/postgresql'])('takes a PostgreSQL URL: %s', (url) => {
    expect(parse(`{ url: "${url}" }`).store.url).toBe(url);
  });

  it('comes from the environment, as ${DATABASE_URL}; an empty ${DATABASE_URL:-} is no URL (SQLite)', () => {
    expect(parse('{ url: "${DATABASE_URL}" }', { DATABASE_URL: 'postgres://db/bridge' }).store.url).toBe('postgres://db/bridge');
    expect(parse('{ url: "${DATABASE_URL:-}" }').store.url).toBeUndefined();
    expect(codesOf('{ url: "${DATABASE_URL}" }')).toEqual(['store.url CONFIG_ENV_MISSING']);
  });

  it.each(['mysql://db/bridge', 'http://db:5432/bridge', 'db.internal:5432', 'not a url', './data/bridge.db'])('refuses what is not a PostgreSQL URL: %s', (url) => {
    expect(codesOf(`{ url: "${url}" }`)).toEqual(['store.url CONFIG_BAD_VALUE']);
  });

  it('never repeats the URL in the message: it may hold a password', () => {
    try {
      parse('{ url: "mysql://bridge:hunter2@db/bridge" }');
      throw new Error('accepted');
    } catch (err) {
      expect((err as ConfigError).issues[0]!.message).not.toContain('hunter2');
    }
  });
});

describe('store.pool_size', () => {
  it('takes a number of connections, also from a variable', () => {
    expect(parse('{ pool_size: 4 }').store.pool_size).toBe(4);
    expect(parse('{ pool_size: "${POOL}" }', { POOL: '25' }).store.pool_size).toBe(25);
  });

  it.each(['0', '-1', '2.5', '"many"'])('refuses %s', (value) => {
    expect(codesOf(`{ pool_size: ${value} }`)).toEqual(['store.pool_size CONFIG_BAD_VALUE']);
  });
});

describe('store.tls', () => {
  const url = 'url: "postgres://db/bridge"';

  it('reads ca, cert and key as PEM files, inline PEM or ${file:...} secrets; reject_unauthorized defaults to true', () => {
    writeFileSync(join(dir, 'ca.pem'), PEM('CERTIFICATE'));
    writeFileSync(join(dir, 'client.key'), PEM('PRIVATE KEY'));
    const { store } = parse(`{ ${url}, tls: { ca: "${join(dir, 'ca.pem')}", cert: "\${CLIENT_CERT}", key: "\${file:${join(dir, 'client.key')}}" } }`, { CLIENT_CERT: PEM('CERTIFICATE').trim() });
    expect(store.tls).toEqual({ ca: PEM('CERTIFICATE'), cert: PEM('CERTIFICATE').trim(), key: PEM('PRIVATE KEY').trim(), reject_unauthorized: true });
  });

  it('tls: true is TLS verified against the system CAs', () => {
    expect(parse(`{ ${url}, tls: true }`).store.tls).toEqual({ reject_unauthorized: true });
  });

  it('reject_unauthorized: false is kept (a test server)', () => {
    expect(parse(`{ ${url}, tls: { reject_unauthorized: false } }`).store.tls).toEqual({ reject_unauthorized: false });
  });

  it('names a PEM file that cannot be read, an unknown key, and a cert without its key', () => {
    expect(codesOf(`{ ${url}, tls: { ca: "${join(dir, 'missing.pem')}" } }`)).toEqual(['store.tls.ca CONFIG_BAD_VALUE']);
    expect(codesOf(`{ ${url}, tls: { servername: db } }`)).toEqual(['store.tls.servername CONFIG_UNKNOWN_KEY']);
    expect(codesOf(`{ ${url}, tls: { cert: "${PEM('CERTIFICATE').replace(/\n/g, '\\n')}" } }`)).toEqual(['store.tls.key CONFIG_MISSING_KEY']);
  });

  it('without store.url is refused: it would configure nothing', () => {
    expect(codesOf('{ tls: true }')).toEqual(['store.tls CONFIG_BAD_VALUE']);
    expect(codesOf('{ url: "${DATABASE_URL:-}", tls: { reject_unauthorized: false } }')).toEqual(['store.tls CONFIG_BAD_VALUE']);
  });
});

describe('storeOptionsOf', () => {
  it('SQLite: the path and its settings, nothing of PostgreSQL', () => {
    const { store } = parse('{ path: ./b.db, synchronous: normal, max_pending_commits: 7, commit_window: 0, keep_raw: false }');
    expect(storeOptionsOf(store)).toEqual({ path: './b.db', synchronous: 'normal', maxPendingCommits: 7, commitWindowMs: 0, keepRaw: false });
  });

  it('PostgreSQL: the URL, the pool size and the TLS options in the store\'s words', () => {
    const { store } = parse('{ url: "postgres://db/bridge", pool_size: 3, tls: { ca: "-----BEGIN CERTIFICATE-----x", reject_unauthorized: false } }');
    expect(storeOptionsOf(store)).toEqual({
      path: './data/bridge.db',
      url: 'postgres://db/bridge',
      poolSize: 3,
      tls: { ca: '-----BEGIN CERTIFICATE-----x', rejectUnauthorized: false },
      synchronous: 'full',
      maxPendingCommits: 2048,
      commitWindowMs: 4,
      keepRaw: true,
    });
  });
});

describe('describeStore', () => {
  it('names the database without its password or parameters, the pool and the TLS mode', () => {
    const { store } = parse('{ url: "postgres://audian:hunter2@db.internal:5432/audian?sslmode=disable", pool_size: 4, tls: { reject_unauthorized: false } }');
    const line = describeStore(store);
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('sslmode');
    expect(line).toContain('db.internal:5432/audian');
    expect(line).toContain('pool 4');
    expect(line).toContain('NOT verified');
  });

  it('names the SQLite file', () => {
    expect(describeStore(parse('{ path: ./b.db }').store)).toContain('./b.db');
  });
});
