import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres/index.js';
import { createSqliteStore, type SqliteStore } from '../../src/store/sqlite/index.js';
import { createDatabase, postgresEnv, skipNote, type TestDatabase } from '../helpers/postgres.js';
import { PAGE_READS, type ScaleFacts } from '../../bench/page-reads.js';
import { buildPostgresScale, buildSqliteScale } from '../../bench/scale-store.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * Every console page's and admin list's reads (test/plans/page-reads.ts) on
 * a store of 1,000,000 deliveries built with SQL: each statement they run is
 * explained with the values it ran with, and none reads a big table through
 * (SQLite: no `SCAN` of one but by a partial index; PostgreSQL: no `Seq Scan`
 * on one, after ANALYZE). The store is built once per database, for all.
 */
const DELIVERIES = 1_000_000;
const BIG_TABLES = ['events', 'deliveries', 'calls', 'delivery_attempts'];
const BUILD_MS = 240_000;

interface Ran {
  readonly text: string;
  readonly values: unknown[];
}

/** Runs `read`, catching every statement it runs on `db`'s connection (better-sqlite3's `all`, `get`, `iterate`). */
async function sqliteStatementsOf(store: SqliteStore, read: () => Promise<unknown>): Promise<Ran[]> {
  const prototype = Object.getPrototypeOf(store.db.prepare('SELECT 1')) as Record<string, (...args: unknown[]) => unknown>;
  const ran: Ran[] = [];
  const originals = Object.fromEntries(['all', 'get', 'iterate'].map((name) => [name, prototype[name]!]));
  for (const [name, original] of Object.entries(originals)) {
    prototype[name] = function (this: { source: string }, ...values: unknown[]) {
      ran.push({ text: this.source, values });
      return original.apply(this, values);
    };
  }
  try {
    await read();
  } finally {
    Object.assign(prototype, originals);
  }
  return ran;
}

async function postgresStatementsOf(store: PostgresStore, read: () => Promise<unknown>): Promise<Ran[]> {
  const pool = store.pool as pg.Pool & { query: (...args: unknown[]) => unknown };
  const original = pool.query;
  const ran: Ran[] = [];
  pool.query = function (this: pg.Pool, ...args: unknown[]) {
    if (typeof args[0] === 'string') ran.push({ text: args[0], values: (args[1] as unknown[] | undefined) ?? [] });
    return original.apply(this, args as never);
  } as typeof pool.query;
  try {
    await read();
  } finally {
    pool.query = original;
  }
  return ran;
}

/** `SCAN x` or `SCAN x USING [COVERING] INDEX i` of a big table (by name or alias) where `i` is not partial. */
function sqliteFullScans(plan: string[], partial: ReadonlySet<string>, aliases: ReadonlySet<string>): string[] {
  return plan.filter((line) => {
    const scan = /^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?/.exec(line);
    if (!scan) return false;
    const [, table, index] = scan;
    if (!aliases.has(table as string)) return false;
    return index === undefined || !partial.has(index);
  });
}

/** The names and aliases a statement gives the big tables (`deliveries d`, `events e`, ...). */
function aliasesIn(text: string): Set<string> {
  const names = new Set(BIG_TABLES);
  for (const match of text.matchAll(new RegExp(`\\b(${BIG_TABLES.join('|')})\\s+(?:AS\\s+)?(\\w+)`, 'gi'))) {
    const alias = match[2] as string;
    if (!/^(WHERE|JOIN|CROSS|ON|ORDER|GROUP|LIMIT|SET|USING|LEFT|INNER|UNION|AND)$/i.test(alias)) names.add(alias);
  }
  return names;
}

describe('sqlite: every page read on 1,000,000 deliveries uses an index', () => {
  let dir: string;
  let store: SqliteStore;
  let facts: ScaleFacts;
  let partial: Set<string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-scale-'));
    store = createSqliteStore(join(dir, 'bridge.db'));
    facts = buildSqliteScale(store.db, DELIVERIES);
    partial = new Set((store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'").all() as { name: string }[]).map((row) => row.name));
  }, BUILD_MS);
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(PAGE_READS.map((read) => [read.name, read] as const))('%s', async (_name, read) => {
    const ran = await sqliteStatementsOf(store, () => read.read(store, facts));
    expect(ran.length).toBeGreaterThan(0);
    for (const statement of ran) {
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${statement.text}`).all(...statement.values) as { detail: string }[]).map((row) => row.detail);
      expect(sqliteFullScans(plan, partial, aliasesIn(statement.text)), `${statement.text}\n${plan.join('\n')}`).toEqual([]);
    }
  });
});

const server = postgresEnv();
if (!server.url) skipOrFail('PostgreSQL page indexes', server.skipReason ?? 'no PostgreSQL server');

describe.skipIf(!server.url)(`postgres: every page read on 1,000,000 deliveries uses an index${skipNote(server.url ? null : server.skipReason)}`, () => {
  let database: TestDatabase;
  let store: PostgresStore;
  let facts: ScaleFacts;
  beforeAll(async () => {
    database = await createDatabase(server.url as string, 'audian_scale');
    store = await createPostgresStore(database.url);
    facts = await buildPostgresScale(store.pool, DELIVERIES);
  }, BUILD_MS);
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it.each(PAGE_READS.map((read) => [read.name, read] as const))('%s', async (_name, read) => {
    const ran = await postgresStatementsOf(store, () => read.read(store, facts));
    expect(ran.length).toBeGreaterThan(0);
    for (const statement of ran) {
      const { rows } = await store.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values);
      const plan = rows.map((row) => row['QUERY PLAN']);
      const scans = plan.filter((line) => new RegExp(`Seq Scan on (${BIG_TABLES.join('|')})\\b`).test(line));
      expect(scans, `${statement.text}\n${plan.join('\n')}`).toEqual([]);
    }
  });
});
