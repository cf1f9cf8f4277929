import type { ChatPostMessageArguments, WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import { boolean, compileTemplate, duration, nonEmpty, secret, sent, template, type CanonicalEvent, type ConnectorDefinition, type Delivery, type Preview, type SendResult } from '../../src/sdk/index.js';
import { buildMessage, type MessageOptions } from './blocks.js';
import { createClientFor } from './client.js';
import { classifySlackError } from './errors.js';
import { escapeMrkdwn } from './escape.js';
import { createPacer, type Pacer } from './pacing.js';
import { createSlackProbe } from './probe.js';
import { createThreads, memoryState, type ThreadRef, type Threads } from './threads.js';

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
  token: secret(nonEmpty()),
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

/** A post planned for an event: the thread it joins, if any, and the `chat.postMessage` arguments. */
interface Post {
  readonly thread: ThreadRef | undefined;
  readonly request: ChatPostMessageArguments;
}

/** An event nothing is posted for, and why. */
interface Skip {
  readonly skip: string;
}

/** The `chat.postMessage` arguments for an event, or why nothing is posted. Reads the thread state, changes nothing. */
async function planPost(event: CanonicalEvent, channel: string, messageOptions: MessageOptions, threads: Threads | undefined): Promise<Post | Skip> {
  const thread = await threads?.find(event);
  if (threads && !thread && event.type !== 'call.missed') {
    // With threading on, anything but an alert is a follow-up; without an alert there is nothing to follow.
    return { skip: `thread_follow_ups is on and no alert thread is open for this ${event.type} event's call or caller` } as const;
  }
  const message = buildMessage(event, messageOptions);
  // A repeated missed call goes in the thread and, being an alert, to the channel too.
  const threading = thread ? { thread_ts: thread.ts, ...(event.type === 'call.missed' ? { reply_broadcast: true } : {}) } : {};
  const request = {
    channel: thread?.channel ?? channel,
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

/** What a preview shows of a planned post. */
function previewOf(planned: Post | Skip): Preview {
  if ('skip' in planned) return { outcome: 'skip', reason: `not posted: ${planned.skip}` };
  const { channel, text, blocks, thread_ts: thread } = planned.request as { channel: string; text: string; blocks: unknown[]; thread_ts?: string };
  return { outcome: 'send', target: `channel ${channel}`, message: { channel, text, blocks, ...(thread ? { thread_ts: thread } : {}) } };
}

/**
 * Posts the planned message in its turn. A failure comes back classified, and
 * its `Retry-After` holds back the next post; every attempt holds the next
 * one back by `minInterval`.
 */
async function postInTurn(
  clientFor: (signal: AbortSignal) => WebClient,
  post: Post,
  pacer: Pacer,
  minInterval: number,
  signal: AbortSignal,
): Promise<{ posted: { channel?: string; ts?: string } } | { failed: SendResult }> {
  const waited = await pacer.waitTurn(signal);
  if (waited) return { failed: waited };
  try {
    return { posted: await clientFor(signal).chat.postMessage(post.request) };
  } catch (err) {
    const outcome = classifySlackError(err);
    if (!outcome.ok && outcome.retryAfterMs !== undefined) pacer.holdFor(outcome.retryAfterMs);
    return { failed: outcome };
  } finally {
    pacer.holdFor(minInterval);
  }
}

/** Records the thread of a posted alert, or that a follow-up joined one; a failure only loses the thread. */
async function recordThread(threads: Threads, event: CanonicalEvent, thread: ThreadRef | undefined, posted: { channel: string; ts: string }, logger: Logger): Promise<void> {
  try {
    if (thread) await threads.join(event, thread);
    else await threads.open(event, posted);
  } catch (err) {
    // The message is out; only its thread is forgotten, so a follow-up may be skipped.
    logger.error({ err, eventId: event.id }, 'could not record the Slack thread of a posted alert');
  }
}

/** Checks the token with `auth.test` within `timeout` ms, logging the outcome; never throws. */
async function checkAuth(clientFor: (signal: AbortSignal) => WebClient, timeout: number, channel: string, logger: Logger): Promise<void> {
  try {
    const auth = await clientFor(AbortSignal.timeout(timeout)).auth.test();
    logger.info({ team: auth.team, user: auth.user, channel }, 'slack connector ready');
  } catch (err) {
    const outcome = classifySlackError(err);
    logger.warn({ error: outcome.ok ? undefined : outcome.error }, 'slack auth.test failed; alerts will fail until this is fixed');
  }
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
    const clientFor = createClientFor(options, context.fetch, logger);
    const pacer = createPacer(context.now);
    const plan = (event: CanonicalEvent) => planPost(event, options.channel, messageOptions, threads);

    async function sendOne(delivery: Delivery, signal: AbortSignal): Promise<SendResult> {
      const { event } = delivery;
      const planned = await plan(event);
      if ('skip' in planned) {
        logger.debug({ eventId: event.id, type: event.type }, 'no alert thread for this follow-up; not posted');
        return sent;
      }
      const outcome = await postInTurn(clientFor, planned, pacer, options.min_interval, signal);
      if ('failed' in outcome) return outcome.failed;
      const { posted } = outcome;
      if (threads && posted.channel && posted.ts) await recordThread(threads, event, planned.thread, { channel: posted.channel, ts: posted.ts }, logger);
      logger.debug({ eventId: event.id, channel: posted.channel, ts: posted.ts, thread: planned.thread?.ts }, 'posted to Slack');
      return sent;
    }

    return {
      name,
      async start() {
        // Only a check: a wrong token shows in the log at start, not first at the next missed call.
        await checkAuth(clientFor, options.timeout, options.channel, logger);
      },
      async send(batch, signal) {
        const results: SendResult[] = [];
        for (const delivery of batch) results.push(await sendOne(delivery, signal));
        return results;
      },
      probe: createSlackProbe(clientFor, options.api_url, options.timeout),
      preview: async (event) => previewOf(await plan(event)),
      async stop() {},
    };
  },
};
