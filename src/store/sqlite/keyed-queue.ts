/**
 * Runs `task` after every earlier task with the same key has finished: the
 * per-call serialization of a store whose writers all live in this process.
 * Reading a call's row, advancing it (asynchronous: routing may run JSONata)
 * and committing never interleave with another writer of the same call.
 */
export function createKeyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async function run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
