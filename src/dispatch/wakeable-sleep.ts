/**
 * A sleep that `wake` cuts short. A wake while nobody sleeps is kept, and
 * makes the next sleep return at once: news that arrives between two looks at
 * the outbox is never slept through.
 */
export function createWakeableSleep() {
  let wake: (() => void) | undefined;
  let woken = false;
  return {
    sleep(ms: number): Promise<void> {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          woken = false;
          resolve();
        }
        wake = done;
      });
    },
    wake(): void {
      if (wake) wake();
      else woken = true;
    },
    /** Ends a sleep in progress, if any, without keeping a wake for later. */
    interrupt(): void {
      wake?.();
    },
  };
}

export type WakeableSleep = ReturnType<typeof createWakeableSleep>;

/**
 * `wake`, gathered: the first call starts a window of `windowMs`, and `wake`
 * runs once at its end for every call within it. With 0, each call wakes at once.
 */
export function createGatheredWake(wake: () => void, windowMs: number): () => void {
  if (windowMs <= 0) return wake;
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      wake();
    }, windowMs);
    // The worker's own sleep keeps the process alive while it runs; a pending wake is no reason to.
    timer.unref();
  };
}
