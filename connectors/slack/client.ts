import { LogLevel, WebClient, type FetchFunction, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';

/** @slack/web-api logs through our pino logger; its failures are reported by the dispatcher, so they are debug here. */
function slackLogger(logger: Logger): SlackLogger {
  let level = LogLevel.DEBUG;
  const write = (msg: unknown[]) => msg.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(' ');
  return {
    debug: (...msg: unknown[]) => logger.debug(write(msg)),
    info: (...msg: unknown[]) => logger.debug(write(msg)),
    warn: (...msg: unknown[]) => logger.debug(write(msg)),
    error: (...msg: unknown[]) => logger.warn(write(msg)),
    setLevel: (next: LogLevel) => (level = next),
    getLevel: () => level,
    setName: () => {},
  };
}

export interface ClientOptions {
  readonly token: string;
  readonly api_url: string;
  /** Per request, in ms. */
  readonly timeout: number;
}

/**
 * Makes Web API clients whose requests end with a given signal (the
 * dispatcher's send timeout or shutdown). The client's own retry queue is
 * off (`retries: 0`, `rejectRateLimitedCalls`): a 429 comes back to the
 * connector, which hands the wait to the outbox.
 */
export function createClientFor(options: ClientOptions, fetch: typeof globalThis.fetch, logger: Logger): (signal: AbortSignal) => WebClient {
  const clientLogger = slackLogger(logger);
  return (signal) => {
    const fetchWithSignal: FetchFunction = (url, init) => fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
    return new WebClient(options.token, {
      slackApiUrl: options.api_url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      maxRequestConcurrency: 1,
      timeout: options.timeout,
      logger: clientLogger,
      fetch: fetchWithSignal,
    });
  };
}
