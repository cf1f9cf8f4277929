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
