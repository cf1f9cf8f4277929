import type { Db } from './db.js';

/**
 * Group commit: every commit asked for during one turn of the event loop is
 * written in one SQLite transaction, so concurrent webhooks share one fsync
 * (synchronous=FULL) instead of paying one each. Each caller still learns its
 * own result only after that transaction is durable, so a 200 keeps meaning
 * "committed". `commitOne` must be a transaction of its own (it nests as a
 * savepoint); if the shared transaction fails, each commit is retried alone,
 * so one bad write cannot fail the others.
 */
export function createGroupCommit<Input, Result>(db: Db, commitOne: (input: Input) => Result) {
  interface Pending {
    readonly input: Input;
    readonly resolve: (result: Result) => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  const commitAll = db.transaction((inputs: readonly Input[]) => inputs.map(commitOne));

  function flush(): void {
    const batch = queue;
    queue = [];
    let results: Result[] | undefined;
    try {
      results = commitAll(batch.map((pending) => pending.input));
    } catch {
      // Fall through: settle each one on its own.
    }
    if (results) {
      batch.forEach((pending, index) => pending.resolve(results[index] as Result));
      return;
    }
    for (const pending of batch) {
      try {
        pending.resolve(commitOne(pending.input));
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
