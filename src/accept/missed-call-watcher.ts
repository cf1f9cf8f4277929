import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { Acceptor } from './acceptor.js';

const BATCH = 100;

/**
 * Decides ended calls once their grace period is over. The pending checks
 * live in the store, so a restart picks them up where it left off.
 */
export function createMissedCallWatcher(deps: {
  store: Store;
  acceptor: Acceptor;
  graceMs: number;
  logger: Logger;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'missed-calls' });
  // Often enough that an alert goes out within a fraction of the grace period after it ends.
  const interval = Math.min(1000, Math.max(50, Math.floor(deps.graceMs / 4)));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  async function tick(): Promise<void> {
    for (;;) {
      let due;
      try {
        due = await deps.store.dueMissedChecks(now(), BATCH);
      } catch (err) {
        logger.error({ err }, 'cannot read the pending missed-call checks; trying again shortly');
        return;
      }
      for (const call of due) {
        try {
          await deps.acceptor.decideMissed(call);
        } catch (err) {
          // Left due: the next tick tries again.
          logger.error({ err, callId: call.callId }, 'could not decide a missed call');
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
          if (timer !== undefined) timer = setTimeout(loop, interval);
        });
      };
      timer = setTimeout(loop, interval);
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
