import YAML from 'yaml';
import { redactUrl } from '../../config/redact.js';
import { LIVE_ONLY_KEYS, type LastReload, type ReloadAnswer } from '../../reload.js';
import { consoleActor } from '../access.js';
import { noticeOf, type Site } from '../site.js';

/** What the configuration page reloads with: the same reload as SIGHUP and `POST /admin/reload`, and its latest answer. */
export interface ConsoleReload {
  readonly run: () => Promise<ReloadAnswer>;
  readonly last: () => LastReload | undefined;
}

/** How each trigger of a reload reads on the page; another one is shown as it is. */
const TRIGGERS: Readonly<Record<string, string>> = {
  console: 'from the console',
  admin: 'through the admin API (POST /admin/reload)',
  SIGHUP: 'on SIGHUP',
};

interface IssueView {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/**
 * A message as the page shows it: its first line only (a YAML syntax error
 * goes on to quote lines of the file, which may hold a secret written in
 * it), and every URL in it without its credentials (redact.ts).
 */
function shownMessage(message: string): string {
  const first = message.split('\n', 1)[0]!.trim();
  return first.split(/(\s+)/).map(redactUrl).join('');
}

function issueOf(issue: unknown): IssueView {
  const field = (key: string) => (typeof issue === 'object' && issue !== null && typeof (issue as Record<string, unknown>)[key] === 'string' ? ((issue as Record<string, string>)[key] as string) : '');
  return { path: field('path'), code: field('code'), message: shownMessage(field('message')) };
}

/** The latest reload as the page lists it: when, from where, and what changed or why nothing did. */
function reloadView(last: LastReload) {
  const base = { at: new Date(last.at).toISOString(), trigger: TRIGGERS[last.trigger] ?? `(${last.trigger})` };
  const { answer } = last;
  if (!answer.reloaded) {
    const issues = answer.error.issues.map(issueOf);
    return { ...base, refused: { code: answer.error.code, message: issues.length > 0 ? '' : shownMessage(answer.error.message), issues } };
  }
  const { added, replaced, removed, kept } = answer.connectors;
  return { ...base, applied: { added, replaced, removed, kept, sources: answer.sources, routes: answer.routes, starting: answer.starting, orphaned: answer.orphaned } };
}

/**
 * The configuration in force, every secret redacted (src/config/redact.ts),
 * as YAML, with when it was loaded and the latest reload's answer; and
 * reloading it after a confirmation page, as `POST /admin/reload` does,
 * recorded in the audit before it runs.
 */
export function registerConfigPage(site: Site, reload?: ConsoleReload): void {
  const { router, access, render, operations, logger } = site;
  router.get(
    '/ui/config',
    access.view(async (ctx, session) => {
      const { config, loadedAt } = operations.configuration();
      const notice = noticeOf(ctx.query.done);
      const last = reload?.last();
      render.page(
        ctx,
        'config',
        { title: 'Configuration', nav: 'config', csrf: session.csrf, ...(notice ? { notice } : {}) },
        { yaml: YAML.stringify(config, { lineWidth: 0 }), loadedAt, reloadable: reload !== undefined, last: last ? reloadView(last) : undefined },
      );
    }),
  );
  if (!reload) return;

  router.get(
    '/ui/config/reload',
    access.view(async (ctx, session) => {
      const { loadedAt } = operations.configuration();
      render.page(ctx, 'config-reload', { title: 'Reload the configuration', nav: 'config', csrf: session.csrf }, { loadedAt, liveOnly: LIVE_ONLY_KEYS });
    }),
  );

  router.post(
    '/ui/config/reload',
    access.action(async (ctx, session) => {
      // Recorded before it runs, as the admin API does: a reload the audit could not record does not happen.
      await operations.recordAudit({ action: 'reload', actor: consoleActor(ctx, session), count: 1 });
      const answer = await reload.run();
      logger.info({ reloaded: answer.reloaded, ...(answer.reloaded ? {} : { code: answer.error.code }), ip: ctx.ip }, 'config reload from the console');
      return `/ui/config?done=${answer.reloaded ? 'reloaded' : 'reload-refused'}`;
    }),
  );
}
