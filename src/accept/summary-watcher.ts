import type { Logger } from 'pino';
import type { UpkeepStore } from '../store/index.js';
import type { Acceptor } from './acceptor.js';
import { createCallWatcher } from './call-watcher.js';
import { watchInterval } from './missed-call-watcher.js';

/**
 * Emits each call's `call.summary` once its grace period is over (or its
 * longest age, for a call whose end never came). The pending summaries live in
 * the store's call rows, so a restart emits what was due, once.
 */
export function createSummaryWatcher(deps: { store: UpkeepStore; acceptor: Acceptor; graceMs: number; logger: Logger; now?: () => number }) {
  return createCallWatcher({
    due: (now, limit) => deps.store.dueSummaries(now, limit),
    decide: (call) => deps.acceptor.decideSummary(call),
    intervalMs: watchInterval(deps.graceMs),
    what: 'call summary',
    logger: deps.logger.child({ component: 'call-summaries' }),
    ...(deps.now ? { now: deps.now } : {}),
  });
}
