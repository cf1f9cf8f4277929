/**
 * SIGHUP asks a serving bridge to reload its config; until something listens
 * for it, Node ends the process on it (exit 129). Loading the CLI's modules
 * and starting the service take hundreds of milliseconds, so main.ts listens
 * from its first line, before it loads anything else: a SIGHUP that comes
 * while the bridge starts is held, and once it serves, one reload runs for
 * all those held. This module imports nothing, so it is listening as soon as
 * Node runs the CLI's code.
 */
export function holdHangups() {
  let held = 0;
  let handle: (() => void) | undefined;
  const listener = () => {
    if (handle) handle();
    else held++;
  };
  process.on('SIGHUP', listener);
  return {
    /** From now on each SIGHUP calls `onHangup`; those held meanwhile call it once, now. Returns how many were held. */
    handOver(onHangup: () => void): number {
      handle = onHangup;
      const count = held;
      held = 0;
      if (count > 0) onHangup();
      return count;
    },
    /** For the commands that do not serve: SIGHUP ends the process as Node's default does, at once if one came already. */
    release(): void {
      process.off('SIGHUP', listener);
      if (held > 0) process.kill(process.pid, 'SIGHUP');
    },
  };
}
