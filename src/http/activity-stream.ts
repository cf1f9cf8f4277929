import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { Logger } from 'pino';
import { BridgeError } from '../errors.js';
import type { Activity, ActivityFeed } from '../ops/activity.js';
import { compileActivityFilter, type ActivityFilter } from '../ops/activity-filter.js';

export interface ActivityStreamOptions {
  readonly feed: ActivityFeed;
  readonly logger: Logger;
  /** A comment line this often, so proxies and clients see a live connection. */
  readonly heartbeatMs?: number;
  /** Bytes a client may leave unread; past it, it is dropped. */
  readonly maxBufferBytes?: number;
  /** Streams open at once, the console's and the API's together. */
  readonly maxClients?: number;
  /** How often a stream asks whether its client may still have it (`serve`'s `allowed`). */
  readonly recheckMs?: number;
}

const HEARTBEAT_MS = 15_000;
const MAX_BUFFER_BYTES = 1024 * 1024;
const MAX_CLIENTS = 16;
const RECHECK_MS = 5_000;
/** How long a client that lost its stream waits before it asks again (the EventSource `retry` field). */
const RECONNECT_MS = 2_000;

/** One Server-Sent Event: its kind as the event name, the activity as JSON (one line: JSON escapes every newline). */
export function formatActivity(activity: Activity): string {
  return `event: ${activity.kind}\ndata: ${JSON.stringify(activity)}\n\n`;
}

/**
 * Live tails as Server-Sent Events (`GET /admin/tail`, the console's live
 * tail). Each stream subscribes to the activity feed with its filter and
 * writes each matching activity at once, without waiting: what the client
 * has not read piles up in the socket's buffer, and a client that lets it
 * pass `maxBufferBytes` is dropped, so a slow reader never holds up the
 * bridge. `close` ends every stream (the bridge is stopping).
 */
export function createActivityStreams(options: ActivityStreamOptions) {
  const logger = options.logger.child({ component: 'tail' });
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const maxBuffer = options.maxBufferBytes ?? MAX_BUFFER_BYTES;
  const maxClients = options.maxClients ?? MAX_CLIENTS;
  const recheckMs = options.recheckMs ?? RECHECK_MS;
  const open = new Set<() => void>();
  let closed = false;

  function start(res: ServerResponse, filter: ActivityFilter, allowed: () => boolean): void {
    const matches = compileActivityFilter(filter);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      clearInterval(recheck);
      open.delete(end);
      if (!res.writableEnded) res.end();
    };
    const send = (text: string) => {
      if (ended) return;
      if (res.writableLength > maxBuffer) {
        logger.warn({ unread: res.writableLength }, 'live tail client dropped: it reads too slowly');
        end();
        res.destroy();
        return;
      }
      res.write(text);
    };
    const unsubscribe = options.feed.subscribe((activity) => {
      if (matches(activity)) send(formatActivity(activity));
    });
    const heartbeat = setInterval(() => send(`: ${new Date().toISOString()}\n\n`), heartbeatMs);
    heartbeat.unref();
    // A console session that ended (signed out, or idle past its time) takes its stream with it: the client's
    // reconnect then meets the login page.
    const recheck = setInterval(() => {
      if (allowed()) return;
      logger.info('live tail ended: its session is over');
      end();
    }, recheckMs);
    recheck.unref();
    open.add(end);
    res.on('close', end);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      // The socket goes with the stream: once ended, nothing holds the listener's close.
      Connection: 'close',
    });
    res.write(`retry: ${RECONNECT_MS}\n: connected\n\n`);
  }

  return {
    /**
     * Answers `ctx` with a stream of the activity `filter` matches, until the client goes, `close`, or `allowed`
     * (asked every `recheckMs`) says the client may no longer have it.
     */
    serve(ctx: Context, filter: ActivityFilter, allowed: () => boolean = () => true): void {
      if (closed) throw new BridgeError('SHUTTING_DOWN', 'the bridge is stopping');
      if (open.size >= maxClients) throw new BridgeError('OVERLOADED', `${maxClients} live tails are open already; close one and try again`);
      ctx.respond = false;
      ctx.req.socket.setNoDelay(true);
      ctx.req.socket.setTimeout(0);
      start(ctx.res, filter, allowed);
    },
    /** Ends every stream; new ones are refused. */
    close(): void {
      closed = true;
      for (const end of [...open]) end();
    },
  };
}

export type ActivityStreams = ReturnType<typeof createActivityStreams>;
