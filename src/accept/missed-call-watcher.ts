import type { Logger } from 'pino';
import type { UpkeepStore } from '../store/index.js';
import type { Acceptor } from './acceptor.js';
import { createCallWatcher } from './call-watcher.js';

/** How often to look for due checks: often enough that an alert goes out within a fraction of the grace period. */
export function watchInterval(graceMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(graceMs / 4)));
}

/**
 * Decides ended calls once their grace period is over. The pending checks
 * live in the store, so a restart picks them up where it left off.
 */
export function createMissedCallWatcher(deps: { store: UpkeepStore; acceptor: Acceptor; graceMs: number; logger: Logger; now?: () => number }) {
  return createCallWatcher({
    due: (now, limit) => deps.store.dueMissedChecks(now, limit),
    decide: (call) => deps.acceptor.decideMissed(call),
    intervalMs: watchInterval(deps.graceMs),
    what: 'missed-call check',
    logger: deps.logger.child({ component: 'missed-calls' }),
    ...(deps.now ? { now: deps.now } : {}),
  });
}
