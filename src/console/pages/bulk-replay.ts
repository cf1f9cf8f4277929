import type { Context } from 'koa';
import { consoleActor } from '../access.js';
import type { Site } from '../site.js';
import { filtersOf, problemOf, queryOfFilters } from './deliveries.js';

/** The keys of a bulk replay's form beside `status`, `upTo` and the form token: the count's resolved filter. */
const CARRIED = ['connector', 'route', 'type', 'event', 'call', 'since', 'until', 'asOf'] as const;
/** Results kept for sessions at once, the oldest forgotten first: each session sees its own last one. */
const RESULTS = 1000;

type Replayed = Awaited<ReturnType<Site['operations']['replay']>>;

/** What a status's deliveries become, in the words of the count page. */
const EFFECTS = [
  { status: 'dead', effect: 'queued again, with a fresh retry budget' },
  { status: 'delivered', effect: 'sent again, as a resend (a new idempotency key)' },
  { status: 'skipped', effect: 'sent again, as a resend (the connector chose not to send it before)' },
  { status: 'pending', effect: 'left alone: queued already' },
] as const;

/** The replay's body from its form: what the count page carried, nothing else. */
function bodyOf(form: URLSearchParams): Record<string, unknown> {
  const body: Record<string, unknown> = { status: form.getAll('status'), upTo: form.get('upTo') ?? '' };
  for (const key of CARRIED) {
    const value = form.get(key);
    if (value !== null && value !== '') body[key] = value;
  }
  return body;
}

/**
 * Bulk replay from any deliveries filter: first how many deliveries match
 * now and what will happen to each status; on confirmation, exactly those
 * (the filter up to the newest id counted), and what changed meanwhile
 * reported as skipped with the reason.
 */
export function registerBulkReplay(site: Site): void {
  const { router, access, render, operations, logger } = site;
  const results = new Map<string, Replayed>();

  router.get(
    '/ui/deliveries/replay',
    access.view(async (ctx: Context, session) => {
      const filters = filtersOf(ctx);
      const frame = { title: 'Replay deliveries', nav: 'deliveries' as const, csrf: session.csrf };
      const back = `/ui/deliveries${ctx.querystring ? `?${ctx.querystring}` : ''}`;
      try {
        const counted = await operations.countDeliveries(queryOfFilters(filters));
        const replayable = counted.effect.requeue + counted.effect.resend;
        const rows = EFFECTS.map((row) => ({ ...row, n: counted.byStatus[row.status] })).filter((row) => row.n > 0);
        render.page(ctx, 'bulk-replay', frame, { filters, counted, replayable, rows, back });
      } catch (err) {
        const problem = problemOf(err);
        render.page(ctx, 'bulk-replay', frame, { filters, problem, back });
        ctx.status = problem.status;
      }
    }),
  );

  router.post(
    '/ui/deliveries/replay',
    access.action(async (ctx, session, form) => {
      const answer = await operations.replay(bodyOf(form), consoleActor(ctx, session));
      logger.info({ queued: answer.queued, skipped: answer.skipped.length, ip: ctx.ip }, 'bulk replay from the console');
      results.delete(session.id);
      results.set(session.id, answer);
      if (results.size > RESULTS) results.delete(results.keys().next().value as string);
      return '/ui/deliveries/replay/result';
    }),
  );

  router.get(
    '/ui/deliveries/replay/result',
    access.view(async (ctx, session) => {
      render.page(ctx, 'bulk-result', { title: 'Replayed', nav: 'deliveries', csrf: session.csrf }, { result: results.get(session.id) });
    }),
  );
}
