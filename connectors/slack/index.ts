import { setTimeout as sleep } from 'node:timers/promises';
import { LogLevel, WebClient, type ChatPostMessageArguments, type FetchFunction, type Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { boolean, compileTemplate, duration, nonEmpty, retriable, sent, template, type CanonicalEvent, type ConnectorDefinition, type Delivery, type SendResult } from '../../src/sdk/index.js';
import { buildMessage } from './blocks.js';
import { classifySlackError } from './errors.js';
import { escapeMrkdwn } from './escape.js';
import { createThreads, memoryState } from './threads.js';

/** Longest the connector waits in place for its turn (pacing, a rate-limit window) before handing the wait to the outbox. */
const MAX_WAIT_IN_PLACE_MS = 10_000;

function httpUrl() {
  return nonEmpty().refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http(s) URL, e.g. https://slack.com/api/');
}

function timeZone() {
  return nonEmpty().superRefine((value, ctx) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not an IANA time zone (write e.g. UTC, Europe/Berlin or America/New_York)` });
    }
  });
}

const TYPE = 'slack';

export const slackSchema = z.strictObject({
  type: z.literal(TYPE),
  /** Bot token (`xoxb-...`) of a Slack app with the `chat:write` scope. */
  token: nonEmpty(),
  /** Channel ID (`C0123456789`) or name; one connector per channel, and a route picks the connector. */
  channel: nonEmpty(),
  /** Slack's Web API base URL; set for proxies and tests (passed to WebClient as `slackApiUrl`). */
  api_url: httpUrl().default('https://slack.com/api/'),
  /** mrkdwn headline over the standard fields, e.g. `Missed call for {data.tags.team}`; placeholder values are escaped. */
  message: template().optional(),
  /** Post later events of an alerted call, callbacks and repeated calls from the same number in the thread of the first alert. */
  thread_follow_ups: boolean().default(false),
  /** How long after an alert follow-ups still join its thread. */
  thread_window: duration().default(24 * 3600_000),
  /** Time zone of the times shown in messages. */
  time_zone: timeZone().default('UTC'),
  /** Least time between two posts; Slack allows about one message per second per channel. */
  min_interval: duration().default(1_000),
  /** Per request. */
  timeout: duration().default(10_000),
});

export type SlackOptions = z.output<typeof slackSchema>;

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

/**
 * Posts events to one Slack channel as Block Kit messages with
 * `chat.postMessage` (docs/connectors/slack.md). The client's own retry queue
 * is off (`retries: 0`, `rejectRateLimitedCalls`): a 429 comes back as
 * retriable with Slack's `Retry-After`, so the wait lives in the outbox and
 * survives restarts.
 */
export const slackConnector: ConnectorDefinition<typeof slackSchema> = {
  type: TYPE,
  schema: slackSchema,
  // Slack takes one message per request, and about one per second per channel.
  batchSize: 1,
  maxPerCall: 1,
  create(name, options, context) {
    const logger = context.logger.child({ connector: name });
    const messageOptions = {
      timeZone: options.time_zone,
      ...(options.message ? { template: compileTemplate(options.message, escapeMrkdwn) } : {}),
    };
    const threads = options.thread_follow_ups
      ? createThreads(context.state ?? memoryState(context.now), options.channel, options.thread_window, context.now)
      : undefined;
    const clientLogger = slackLogger(logger);
    /** No post before this time (ms): pacing and Slack's last `Retry-After`. */
    let nextPostAt = 0;

    /** A client whose requests end with `signal` (the dispatcher's send timeout or shutdown). */
    function clientFor(signal: AbortSignal): WebClient {
      const fetchWithSignal: FetchFunction = (url, init) =>
        context.fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
      return new WebClient(options.token, {
        slackApiUrl: options.api_url,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        maxRequestConcurrency: 1,
        timeout: options.timeout,
        logger: clientLogger,
        fetch: fetchWithSignal,
      });
    }

    async function waitTurn(signal: AbortSignal): Promise<SendResult | undefined> {
      const wait = nextPostAt - context.now();
      if (wait <= 0) return undefined;
      if (wait > MAX_WAIT_IN_PLACE_MS) return retriable(`Slack rate limit: next post in ${wait} ms`, wait);
      try {
        await sleep(wait, undefined, { signal });
        return undefined;
      } catch {
        return retriable('aborted while waiting for a Slack rate-limit window');
      }
    }

    /** The `chat.postMessage` arguments for an event, or why nothing is posted. Reads the thread state, changes nothing. */
    async function plan(event: CanonicalEvent) {
      const thread = await threads?.find(event);
      if (threads && !thread && event.type !== 'call.missed') {
        // With threading on, anything but an alert is a follow-up; without an alert there is nothing to follow.
        return { skip: `thread_follow_ups is on and no alert thread is open for this ${event.type} event's call or caller` } as const;
      }
      const message = buildMessage(event, messageOptions);
      // A repeated missed call goes in the thread and, being an alert, to the channel too.
      const threading = thread ? { thread_ts: thread.ts, ...(event.type === 'call.missed' ? { reply_broadcast: true } : {}) } : {};
      const request = {
        channel: thread?.channel ?? options.channel,
        text: message.text,
        blocks: [...message.blocks],
        // Nothing in the text becomes a link or a mention unless spelled out as <...>, which escaping prevents.
        parse: 'none',
        link_names: false,
        unfurl_links: false,
        unfurl_media: false,
        ...threading,
      } as ChatPostMessageArguments; // the library's union of argument shapes does not narrow from an object built in steps
      return { thread, request } as const;
    }

    async function sendOne(delivery: Delivery, signal: AbortSignal): Promise<SendResult> {
      const { event } = delivery;
      const planned = await plan(event);
      if ('skip' in planned) {
        logger.debug({ eventId: event.id, type: event.type }, 'no alert thread for this follow-up; not posted');
        return sent;
      }
      const { thread, request } = planned;
      const waited = await waitTurn(signal);
      if (waited) return waited;

      let posted: { channel?: string; ts?: string };
      try {
        posted = await clientFor(signal).chat.postMessage(request);
      } catch (err) {
        const outcome = classifySlackError(err);
        if (!outcome.ok && outcome.retryAfterMs !== undefined) nextPostAt = Math.max(nextPostAt, context.now() + outcome.retryAfterMs);
        return outcome;
      } finally {
        nextPostAt = Math.max(nextPostAt, context.now() + options.min_interval);
      }

      if (threads && posted.channel && posted.ts) {
        try {
          if (thread) await threads.join(event, thread);
          else await threads.open(event, { channel: posted.channel, ts: posted.ts });
        } catch (err) {
          // The message is out; only its thread is forgotten, so a follow-up may be skipped.
          logger.error({ err, eventId: event.id }, 'could not record the Slack thread of a posted alert');
        }
      }
      logger.debug({ eventId: event.id, channel: posted.channel, ts: posted.ts, thread: thread?.ts }, 'posted to Slack');
      return sent;
    }

    return {
      name,
      async start() {
        // Only a check: a wrong token shows in the log at start, not first at the next missed call.
        try {
          const auth = await clientFor(AbortSignal.timeout(options.timeout)).auth.test();
          logger.info({ team: auth.team, user: auth.user, channel: options.channel }, 'slack connector ready');
        } catch (err) {
          const outcome = classifySlackError(err);
          logger.warn({ error: outcome.ok ? undefined : outcome.error }, 'slack auth.test failed; alerts will fail until this is fixed');
        }
      },
      async send(batch, signal) {
        const results: SendResult[] = [];
        for (const delivery of batch) results.push(await sendOne(delivery, signal));
        return results;
      },
      async preview(event) {
        const planned = await plan(event);
        if ('skip' in planned) return { outcome: 'skip', reason: `not posted: ${planned.skip}` };
        const { channel, text, blocks, thread_ts: thread } = planned.request as { channel: string; text: string; blocks: unknown[]; thread_ts?: string };
        return { outcome: 'send', target: `channel ${channel}`, message: { channel, text, blocks, ...(thread ? { thread_ts: thread } : {}) } };
      },
      async stop() {},
    };
  },
};
