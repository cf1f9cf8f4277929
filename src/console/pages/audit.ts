import { link } from '../render.js';
import type { Site } from '../site.js';
import { problemOf } from './deliveries.js';

const PAGE = 50;

/** What each action is, in a few words. */
const ACTIONS: Readonly<Record<string, string>> = {
  sign_in: 'signed in',
  sign_in_failed: 'sign-in refused',
  sign_out: 'signed out',
  replay: 'replay',
  bulk_replay: 'bulk replay',
  pause: 'paused a connector',
  resume: 'resumed a connector',
  reload: 'reloaded the configuration',
};

/** The audit (`/ui/audit`): every operator action, newest first, in keyset pages. */
export function registerAuditPage(site: Site): void {
  site.router.get(
    '/ui/audit',
    site.access.view(async (ctx, session) => {
      const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
      const frame = { title: 'Audit', nav: 'audit' as const, csrf: session.csrf };
      try {
        const page = await site.operations.audit({ limit: String(PAGE), ...(cursor ? { cursor } : {}) });
        site.render.page(ctx, 'audit', frame, {
          entries: page.entries.map((entry) => ({ ...entry, what: ACTIONS[entry.action] ?? entry.action })),
          cursorShown: cursor !== undefined,
          nextHref: page.cursor ? link('/ui/audit', { cursor: page.cursor }) : undefined,
        });
      } catch (err) {
        const problem = problemOf(err);
        site.render.page(ctx, 'audit', frame, { entries: [], problem });
        ctx.status = problem.status;
      }
    }),
  );
}
