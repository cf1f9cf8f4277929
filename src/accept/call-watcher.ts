import type { Logger } from 'pino';
import type { CallKey } from '../lifecycle/types.js';

const BATCH = 100;

/**
 * Decides the calls whose check is due, every `intervalMs`: the pending
 * checks live in the store, so a restart picks them up where it left off,
 * and the store decides each once, so a second process asking is harmless.
 */
export function createCallWatcher(deps: {
  /** Due calls at `now`, oldest first, at most `limit`. */
  due: (now: number, limit: number) => Promise<CallKey[]>;
  decide: (call: CallKey) => Promise<unknown>;
  intervalMs: number;
  /** What is decided, for the log: "missed-call check", "call summary". */
  what: string;
  logger: Logger;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const { logger, what } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function tick(): Promise<void> {
    for (;;) {
      let due;
      try {
        due = await deps.due(now(), BATCH);
      } catch (err) {
        logger.error({ err }, `cannot read the pending ${what}s; trying again shortly`);
        return;
      }
      for (const call of due) {
        try {
          await deps.decide(call);
        } catch (err) {
          // Left due: the next tick tries again.
          logger.error({ err, callId: call.callId }, `could not decide a ${what}`);
          return;
        }
      }
      if (due.length < BATCH) return;
    }
  }

  return {
    start(): void {
      const loop = () => {
        running = tick().finally(() => {
          if (timer !== undefined) timer = setTimeout(loop, deps.intervalMs);
        });
      };
      timer = setTimeout(loop, deps.intervalMs);
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

export type CallWatcher = ReturnType<typeof createCallWatcher>;
