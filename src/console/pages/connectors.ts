import type { Context } from 'koa';
import { BridgeError } from '../../errors.js';
import { consoleActor } from '../access.js';
import { noticeOf, type Site } from '../site.js';

type Action = 'pause' | 'resume';

/** What a connector sends to, in a few words, from its (redacted) options. */
function describeConnector(options: Record<string, unknown> | undefined): string {
  if (!options) return '';
  const text = (key: string) => (typeof options[key] === 'string' ? (options[key] as string) : '');
  switch (options.type) {
    case 'http':
      return `HTTP ${text('method')} ${text('url')}`;
    case 'kafka':
      return `Kafka topic ${text('topic')}`;
    case 'slack':
      return `Slack channel ${text('channel')}`;
    case 'file':
      return `file ${text('path')}`;
    case 'transcript':
      return `transcripts in ${text('dir')}`;
    default:
      return String(options.type ?? '');
  }
}

function actionOf(ctx: Context): Action {
  const action = ctx.params.action;
  if (action !== 'pause' && action !== 'resume') throw new BridgeError('NOT_FOUND', `there is no console page at ${ctx.path}`);
  return action;
}

/** The connectors: their state, and pausing or resuming one after a confirmation page. */
export function registerConnectorPages(site: Site): void {
  const { router, access, render, operations, logger } = site;

  async function connectorsWithTypes() {
    const { connectors } = await operations.connectors();
    const configured = (operations.configuration().config as { connectors?: Record<string, Record<string, unknown>> }).connectors ?? {};
    return connectors.map((connector) => ({ ...connector, does: describeConnector(configured[connector.name]) }));
  }

  router.get(
    '/ui/connectors',
    access.view(async (ctx, session) => {
      const notice = noticeOf(ctx.query.done);
      render.page(ctx, 'connectors', { title: 'Connectors', nav: 'connectors', csrf: session.csrf, ...(notice ? { notice } : {}) }, { connectors: await connectorsWithTypes() });
    }),
  );

  router.get(
    '/ui/connectors/:name/:action',
    access.view(async (ctx, session) => {
      const action = actionOf(ctx);
      const name = ctx.params.name as string;
      const connector = (await operations.connectors()).connectors.find((candidate) => candidate.name === name && candidate.configured);
      if (!connector) throw new BridgeError('NOT_FOUND', `no connector named "${name}" is configured`);
      render.page(ctx, 'confirm', { title: `${action === 'pause' ? 'Pause' : 'Resume'} ${name}`, nav: 'connectors', csrf: session.csrf }, { action, name, pending: connector.pending });
    }),
  );

  router.post(
    '/ui/connectors/:name/:action',
    access.action(async (ctx, session) => {
      const action = actionOf(ctx);
      const actor = consoleActor(ctx, session);
      const answer = action === 'pause' ? await operations.pause(ctx.params.name as string, actor) : await operations.resume(ctx.params.name as string, actor);
      logger.info({ connector: answer.connector, changed: answer.changed, ip: ctx.ip }, `connector ${action === 'pause' ? 'paused' : 'resumed'} from the console`);
      return `/ui/connectors?done=${answer.changed ? (action === 'pause' ? 'paused' : 'resumed') : 'unchanged'}`;
    }),
  );
}
