import type { ActivityStreams } from '../../http/activity-stream.js';
import type { Activity } from '../../ops/activity.js';
import { activityFilterOf, compileActivityFilter, type ActivityFilter } from '../../ops/activity-filter.js';
import type { ActivitySeries, ActivityTotals } from '../../ops/minute-counts.js';
import type { RecentActivity } from '../../ops/recent-activity.js';
import { link } from '../render.js';
import type { Site } from '../site.js';

/** What the console reads of this process's activity (src/service.ts builds it). */
export interface ConsoleActivity {
  readonly recent: Pick<RecentActivity, 'list'>;
  readonly streams: Pick<ActivityStreams, 'serve'>;
  readonly counts: () => { readonly lastHour: ActivityTotals; readonly hour: ActivitySeries; readonly day: ActivitySeries };
}

/** Rows the page shows before its stream adds more; the script keeps at most as many. */
const ROWS = 100;

/** One line of the tail, the same cells the script builds from the stream (src/console/assets/tail.js). */
export interface TailRow {
  readonly at: number;
  readonly time: string;
  readonly kind: Activity['kind'];
  readonly type: string;
  readonly call: string;
  /** `from → to` of a webhook, `route → connector` of a delivery. */
  readonly path: string;
  readonly outcome: string;
  readonly detail: string;
}

const arrow = (left: string | undefined, right: string | undefined) => (left || right ? `${left ?? '?'} → ${right ?? '?'}` : '');

export function tailRowOf(activity: Activity): TailRow {
  const time = `${new Date(activity.at).toISOString().slice(11, 19)} UTC`;
  if (activity.kind === 'webhook') {
    return {
      at: activity.at, time, kind: 'webhook', type: activity.type ?? '', call: activity.callId ?? '', path: arrow(activity.from, activity.to),
      outcome: activity.outcome, detail: activity.code ?? activity.source,
    };
  }
  return {
    at: activity.at, time, kind: 'delivery', type: activity.type, call: activity.callId, path: `${activity.route} → ${activity.connector}`,
    outcome: activity.outcome, detail: `${activity.latencyMs} ms${activity.error ? ` · ${activity.error}` : ''}`,
  };
}

/**
 * The live tail (`/ui/tail`): this process's webhooks and delivery outcomes,
 * newest first, filtered by source and type (and connector, call). The page
 * lists the recent ones on its own; its script (the only one in the console)
 * adds each new one from `/ui/tail/stream` as it happens, and pauses.
 */
export function registerTailPage(site: Site, activity: ConsoleActivity): void {
  site.router.get(
    '/ui/tail',
    site.access.view(async (ctx, session) => {
      const filter = activityFilterOf(ctx.query);
      const matches = compileActivityFilter(filter);
      const rows = activity.recent.list().filter(matches).reverse().slice(0, ROWS).map(tailRowOf);
      site.render.page(ctx, 'tail', { title: 'Live tail', nav: 'tail', csrf: session.csrf, script: true }, {
        rows,
        filter: { source: filter.source ?? '', type: filter.type ?? '', connector: filter.connector ?? '', call: filter.call ?? '' },
        stream: link('/ui/tail/stream', queryOf(filter)),
        refresh: link('/ui/tail', queryOf(filter)),
        max: ROWS,
      });
    }),
  );
  site.router.get(
    '/ui/tail/stream',
    site.access.view(async (ctx, session) => {
      // The stream is no request of the session's: it keeps it from nothing, and ends with it.
      activity.streams.serve(ctx, activityFilterOf(ctx.query), () => site.access.active(session));
    }),
  );
}

function queryOf(filter: ActivityFilter): Record<string, string | undefined> {
  return { source: filter.source, type: filter.type, connector: filter.connector, call: filter.call };
}
