/** Thrown by a group's writer when one input failed on its own (its `advance` threw, its row broke a constraint). */
export class InputFailure extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super('one commit of the group failed', { cause });
  }
}

/**
 * Group commit, as the SQLite store has it (sqlite/group-commit.ts): every
 * commit asked for while the previous group is being written joins the next
 * group, which `writeAll` writes in one transaction with one COMMIT (one WAL
 * flush on the server, synchronous_commit on). Each caller learns its result
 * only after that COMMIT returned, so a 200 keeps meaning "committed".
 *
 * One group is written at a time: a call's events thus take its row lock in
 * the order they arrived here. If `writeAll` reports one input's own failure
 * (`InputFailure`), that caller is told and the rest are written again without
 * it; a failure `failsAll` says would fail every write alike (the server is
 * unreachable) is every caller's answer; any other is retried input by input.
 */
export function createGroupCommit<Input, Result>(writeAll: (inputs: readonly Input[]) => Promise<Result[]>, failsAll: (err: unknown) => boolean) {
  interface Pending {
    readonly input: Input;
    readonly resolve: (result: Result) => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  let writing: Promise<void> | undefined;

  async function write(batch: Pending[]): Promise<void> {
    let rest = batch;
    while (rest.length > 0) {
      try {
        const results = await writeAll(rest.map((pending) => pending.input));
        rest.forEach((pending, index) => pending.resolve(results[index] as Result));
        return;
      } catch (err) {
        if (err instanceof InputFailure) {
          rest[err.index]?.reject(err.cause);
          rest = rest.filter((_, index) => index !== err.index);
          continue;
        }
        if (rest.length === 1 || failsAll(err)) {
          for (const pending of rest) pending.reject(err);
          return;
        }
        // A failure no input owns (a write the database refused): each one on its own, so one bad write cannot fail the others.
        for (const pending of rest) await write([pending]);
        return;
      }
    }
  }

  function schedule(): void {
    if (writing || queue.length === 0) return;
    // One turn of the event loop first, so that the webhooks arriving together share the group.
    writing = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = queue;
      queue = [];
      await write(batch);
      writing = undefined;
      schedule();
    });
  }

  return {
    commit(input: Input): Promise<Result> {
      return new Promise<Result>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        schedule();
      });
    },
    /** Resolves once every commit asked for so far has been answered. */
    async drained(): Promise<void> {
      while (writing) await writing;
    },
  };
}
