import type { Db } from './db.js';

/**
 * Group commit: every commit asked for during one turn of the event loop is
 * written in one SQLite transaction, so concurrent webhooks share one fsync
 * (synchronous=FULL) instead of paying one each. Each caller still learns its
 * own result only after that transaction is durable, so a 200 keeps meaning
 * "committed". `commitOne` must be a transaction of its own (it nests as a
 * savepoint); if the shared transaction fails, each commit is retried alone,
 * so one bad write cannot fail the others — unless `failsAll` says the failure
 * would fail every write alike (a held lock, a full disk): then all are told at
 * once instead of paying for it once each.
 */
export function createGroupCommit<Input, Result>(db: Db, commitOne: (input: Input) => Result, failsAll: (err: unknown) => boolean = () => false) {
  interface Pending {
    readonly input: Input;
    readonly resolve: (result: Result) => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  const commitAll = db.transaction((inputs: readonly Input[]) => inputs.map(commitOne));
  const commitAlone = db.transaction(commitOne);

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
      batch.forEach((pending, index) => pending.resolve(results[index] as Result));
      return;
    }
    for (const pending of batch) {
      try {
        pending.resolve(commitAlone.immediate(pending.input));
      } catch (err) {
        pending.reject(err);
      }
    }
  }

  return (input: Input): Promise<Result> =>
    new Promise<Result>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ input, resolve, reject });
    });
}
