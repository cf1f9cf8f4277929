import { BridgeError } from '../../errors.js';
import { overviewCharts } from '../charts.js';
import type { Readiness, Site } from '../site.js';
import type { ConsoleActivity } from './tail.js';

/** The overview (`/ui/`): ready or not and why; per connector paused or not, pending, the oldest's age, dead, the last error. */
export function registerOverview(site: Site, readiness: () => Promise<Readiness>, counts?: ConsoleActivity['counts']): void {
  site.router.get(
    '/ui/',
    site.access.view(async (ctx, session) => {
      const ready = await readiness();
      let connectors: Awaited<ReturnType<Site['operations']['connectors']>>['connectors'] = [];
      let problem: { code: string; message: string } | undefined;
      try {
        ({ connectors } = await site.operations.connectors());
      } catch (err) {
        // A store that cannot answer is what the overview is for: say so on the page.
        if (!(err instanceof BridgeError) || err.code !== 'STORE_UNAVAILABLE') throw err;
        problem = { code: err.code, message: err.message };
      }
      const dead = connectors.reduce((sum, connector) => sum + connector.dead, 0);
      const activity = counts?.();
      const recent = activity ? { ...activity.lastHour, rejectedTotal: Object.values(activity.lastHour.rejected).reduce((sum, n) => sum + n, 0) } : undefined;
      const charts = activity ? overviewCharts(activity.hour, activity.day) : [];
      site.render.page(ctx, 'overview', { title: 'Overview', nav: 'overview', csrf: session.csrf }, { ready, connectors, dead, problem, recent, charts });
    }),
  );
}
