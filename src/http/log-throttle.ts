/** Whether to write a line now, and how many were held back since the last one. */
export type LogTurn = { readonly suppressed: number } | undefined;

/**
 * At most one log line per `intervalMs` for something any client can cause
 * at will (a failed admin login, an unknown method, a flood past the
 * connection cap): the first line is the signal, a line for each would be
 * noise, and a way to fill the disk. The line that is written says how
 * many were held back.
 */
export function createLogThrottle(intervalMs: number, now: () => number = Date.now): () => LogTurn {
  let loggedAt = Number.NEGATIVE_INFINITY;
  let held = 0;
  return () => {
    const at = now();
    if (at - loggedAt < intervalMs) {
      held++;
      return undefined;
    }
    loggedAt = at;
    const suppressed = held;
    held = 0;
    return { suppressed };
  };
}

/** How often each kind of refusal a client can repeat at will is logged. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
