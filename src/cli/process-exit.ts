import { pino, type Logger } from 'pino';

/** Log lines held while stdout does not drain; beyond this they are dropped rather than filling memory. */
const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;
/** How long an exit waits for buffered log lines to reach stdout. */
const LOG_FLUSH_MS = 1_000;

/**
 * The serving process's logger and its way out. Log lines go to stdout
 * asynchronously, so a consumer that stops reading never blocks the event loop;
 * an exit waits briefly for them, then drops the rest, so it never hangs on
 * a full pipe either.
 */
export function createProcessLogger(level: string) {
  const destination = pino.destination({ fd: 1, sync: false, maxLength: MAX_BUFFERED_LOG_BYTES });
  const logger = pino({ level }, destination);

  async function exit(code: number): Promise<never> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, LOG_FLUSH_MS);
      destination.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    // A destroyed destination is not flushed again on exit, which would block on a full pipe.
    destination.destroy();
    process.exit(code);
  }

  return { logger, exit };
}

/**
 * SIGTERM and SIGINT stop the service gracefully, but end the process within
 * `timeoutMs` whatever the connectors or the log stream do; a second signal
 * exits at once.
 */
export function exitOnSignals(stop: () => Promise<void>, options: { logger: Logger; exit: (code: number) => Promise<never>; timeoutMs: number }): void {
  const { logger, exit } = options;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    logger.info({ signal }, 'stopping gracefully');
    setTimeout(() => {
      logger.error({ timeoutMs: options.timeoutMs }, 'graceful stop took longer than shutdown_timeout; exiting now');
      void exit(1);
    }, Math.max(0, options.timeoutMs - LOG_FLUSH_MS)).unref();
    stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err }, 'graceful stop failed');
        return exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
