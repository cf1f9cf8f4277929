import type { Context } from 'koa';
import { BridgeError } from '../../errors.js';
import type { Query } from '../../ops/operations.js';
import { link } from '../render.js';
import { consoleActor } from '../access.js';
import { noticeOf, type Site } from '../site.js';

const STATUSES = ['pending', 'dead', 'delivered', 'skipped'] as const;
const PAGE = 50;
/** The deliveries page's filters, each in the URL, so a view can be bookmarked and shared. */
const FILTERS = ['connector', 'route', 'type', 'call', 'event', 'since', 'until'] as const;

export type Filters = Record<(typeof FILTERS)[number], string> & { status: string[] };

/** The query's filters as the form shows them: several `status`, one of each other key (a repeated one counts once). */
export function filtersOf(ctx: Context): Filters {
  const one = (key: string) => {
    const value = ctx.query[key];
    return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
  };
  const status = ([] as string[]).concat(ctx.query.status ?? []).filter((value) => value !== '');
  return { ...(Object.fromEntries(FILTERS.map((key) => [key, one(key)])) as Record<(typeof FILTERS)[number], string>), status };
}

/** The filters as the operations read them (query-string form); empty ones left out. */
export function queryOfFilters(filters: Filters): Query {
  return {
    ...Object.fromEntries(FILTERS.filter((key) => filters[key] !== '').map((key) => [key, filters[key]])),
    ...(filters.status.length > 0 ? { status: filters.status.join(',') } : {}),
  };
}

/** `BridgeError`s of bad input are shown on the page (400); anything else is the error page's. */
export function problemOf(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof BridgeError && err.status < 500) return { status: err.status, code: err.code, message: err.message };
  throw err;
}

/** Deliveries (filtered, newest first, keyset pages), one delivery with its attempts, and its replay. */
export function registerDeliveryPages(site: Site): void {
  const { router, access, render, operations, logger } = site;

  router.get(
    '/ui/deliveries',
    access.view(async (ctx, session) => {
      const filters = filtersOf(ctx);
      const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
      const query: Query = { ...queryOfFilters(filters), ...(cursor ? { cursor } : {}), limit: String(PAGE) };
      const { connectors } = await operations.connectors();
      const frame = { title: 'Deliveries', nav: 'deliveries' as const, csrf: session.csrf };
      const shared = { filters, statuses: STATUSES, connectorNames: connectors.map((connector) => connector.name), cursorShown: cursor !== undefined };
      let page: Awaited<ReturnType<typeof operations.listDeliveries>>;
      try {
        page = await operations.listDeliveries(query);
      } catch (err) {
        const problem = problemOf(err);
        render.page(ctx, 'deliveries', frame, { ...shared, rows: [], problem });
        ctx.status = problem.status;
        return;
      }
      const here = (extra: Record<string, string>) => link('/ui/deliveries', { ...filters, ...extra });
      render.page(ctx, 'deliveries', frame, {
        ...shared,
        rows: page.deliveries,
        firstHref: here({}),
        replayHref: link('/ui/deliveries/replay', { ...filters }),
        nextHref: page.cursor ? here({ cursor: page.cursor }) : undefined,
      });
    }),
  );

  router.get(
    '/ui/deliveries/:id',
    access.view(async (ctx, session) => {
      const delivery = await operations.showDelivery(ctx.params.id as string);
      const traced = await operations.event(delivery.eventId).catch((err: unknown) => {
        if (err instanceof BridgeError && err.code === 'NOT_FOUND') return undefined;
        throw err;
      });
      const notice = noticeOf(ctx.query.done);
      render.page(ctx, 'delivery', { title: `Delivery #${delivery.id}`, nav: 'deliveries', csrf: session.csrf, ...(notice ? { notice } : {}) }, {
        d: delivery,
        event: traced?.event,
        replayable: delivery.status !== 'pending',
      });
    }),
  );

  router.post(
    '/ui/deliveries/:id/replay',
    access.action(async (ctx, session) => {
      const id = ctx.params.id as string;
      const answer = await operations.replay({ ids: [id] }, consoleActor(ctx, session));
      logger.info({ queued: answer.ids, skipped: answer.skipped, ip: ctx.ip }, 'deliveries replayed from the console');
      return `/ui/deliveries/${encodeURIComponent(id)}?done=${answer.queued > 0 ? 'replayed' : 'not-replayed'}`;
    }),
  );
}
