import type BetterSqlite3 from 'better-sqlite3';
import Database from '../../src/store/sqlite/driver.js';
import { afterEach, expect, it } from 'vitest';
import { failsEveryWrite } from '../../src/store/sqlite/errors.js';
import { createGroupCommit } from '../../src/store/sqlite/group-commit.js';

let db: BetterSqlite3.Database;
afterEach(() => db.close());

function setup() {
  db = new Database(':memory:');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING');
  const one = db.transaction((input: { k: string; v: number | null }) => insert.run(input.k, input.v).changes === 1);
  const commit = createGroupCommit(db, one);
  return { commit, count: () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n };
}

it('commits everything asked for in one turn, resolving each with its own result', async () => {
  const { commit, count } = setup();
  const results = await Promise.all([commit({ k: 'a', v: 1 }), commit({ k: 'b', v: 2 }), commit({ k: 'a', v: 3 })]);
  expect(results).toEqual([true, true, false]); // the second "a" is a duplicate within the same group
  expect(count()).toBe(2);
});

it('nothing is visible before the promise resolves, everything after', async () => {
  const { commit, count } = setup();
  const pending = commit({ k: 'x', v: 1 });
  expect(count()).toBe(0);
  await pending;
  expect(count()).toBe(1);
});

it('one failing commit does not fail the others of its group', async () => {
  const { commit, count } = setup();
  const outcomes = await Promise.allSettled([commit({ k: 'ok1', v: 1 }), commit({ k: 'bad', v: null }), commit({ k: 'ok2', v: 2 })]);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(count()).toBe(2);
});

it('a failure that fails every write (a full disk) rejects the whole group at once, nobody retried alone', async () => {
  db = new Database(':memory:');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
  let tries = 0;
  const one = db.transaction((k: string) => {
    tries += 1;
    if (tries === 1) throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    insert.run(k);
  });
  const commit = createGroupCommit(db, one, failsEveryWrite);
  const outcomes = await Promise.allSettled([commit('a'), commit('b'), commit('c')]);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
  expect(tries).toBe(1);
  expect((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(0);
});

it('answers the group only once `durable` resolves, and with its error when it fails', async () => {
  db = new Database(':memory:');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
  const syncs: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const durable = () => new Promise<void>((resolve, reject) => syncs.push({ resolve, reject }));
  const commit = createGroupCommit(db, (k: string) => insert.run(k).changes, undefined, durable);
  let answered = 0;
  const group = [commit('a'), commit('b')].map((promise) => promise.then((changes) => ((answered += 1), changes)));
  await new Promise((resolve) => setImmediate(resolve));
  expect(syncs).toHaveLength(1); // one sync for the whole group
  expect((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(2);
  expect(answered).toBe(0);
  syncs[0]!.resolve();
  expect(await Promise.all(group)).toEqual([1, 1]);

  const failing = commit('c');
  await new Promise((resolve) => setImmediate(resolve));
  syncs[1]!.reject(new Error('EIO'));
  await expect(failing).rejects.toThrow('EIO');
});
