import type { Db } from './db.js';

/**
 * Group commit: every commit asked for during one turn of the event loop is
 * written in one SQLite transaction, so concurrent webhooks share one fsync
 * (synchronous=FULL) instead of paying one each. Each caller still learns its
 * own result only after that transaction is durable, so a 200 keeps meaning
 * "committed": `durable`, when given, is asked right after the transaction and
 * the group answered once it resolves (the store's WAL sync, wal-sync.ts).
 * If the shared transaction fails, each commit is retried alone (each in a
 * transaction of its own), so one bad write cannot fail the others — unless
 * `failsAll` says the failure would fail every write alike (a held lock, a full
 * disk): then all are told at once instead of paying for it once each.
 */
export function createGroupCommit<Input, Result>(
  db: Db,
  commitOne: (input: Input) => Result,
  failsAll: (err: unknown) => boolean = () => false,
  durable: () => Promise<void> = () => Promise.resolve(),
) {
  interface Pending {
    readonly input: Input;
    readonly resolve: (result: Result) => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  // Inside the shared transaction a failure needs no savepoint per commit: it rolls the whole group back.
  const commitAll = db.transaction((inputs: readonly Input[]) => inputs.map(commitOne));
  const commitAlone = db.transaction(commitOne);

  /** Answers each of `settled` once what was committed is durable; a failed sync fails those it would have answered. */
  function answer(settled: readonly { pending: Pending; ok: boolean; value: unknown }[]): void {
    const committed = settled.some((entry) => entry.ok);
    const synced = committed ? durable() : Promise.resolve();
    synced.then(
      () => {
        for (const { pending, ok, value } of settled) {
          if (ok) pending.resolve(value as Result);
          else pending.reject(value);
        }
      },
      (err: unknown) => {
        for (const { pending, ok, value } of settled) pending.reject(ok ? err : value);
      },
    );
  }

  function flush(): void {
    const batch = queue;
    queue = [];
    let results: Result[] | undefined;
    try {
      // IMMEDIATE takes the write lock up front: in WAL mode a read that turns into a write can fail without waiting.
      results = commitAll.immediate(batch.map((pending) => pending.input));
    } catch (err) {
      if (failsAll(err)) {
        for (const pending of batch) pending.reject(err);
        return;
      }
      // Otherwise fall through: settle each one on its own.
    }
    if (results) {
      const all = results;
      answer(batch.map((pending, index) => ({ pending, ok: true, value: all[index] })));
      return;
    }
    answer(
      batch.map((pending) => {
        try {
          return { pending, ok: true, value: commitAlone.immediate(pending.input) };
        } catch (err) {
          return { pending, ok: false, value: err };
        }
      }),
    );
  }

  return (input: Input): Promise<Result> =>
    new Promise<Result>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ input, resolve, reject });
    });
}
