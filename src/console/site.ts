import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { Operations } from '../ops/operations.js';
import type { Access } from './access.js';
import type { Renderer } from './render.js';

/** Whether the bridge takes webhooks now, and if not why: what `/readyz` answers. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  /** Ready, but something an operator should look at (e.g. a subscription gone silent). */
  readonly warnings?: readonly string[];
}

/** What each page module registers its routes with. */
export interface Site {
  readonly router: Router;
  readonly access: Access;
  readonly render: Renderer;
  /** The same operations as the admin API's, so the console and scripts never disagree. */
  readonly operations: Operations;
  readonly logger: Logger;
}

/** What an action just did, by the `done` query value it redirects with: a fixed text, never the request's own. */
export const NOTICES: Readonly<Record<string, string>> = {
  replayed: 'The delivery is queued again; it goes out as soon as its connector takes it.',
  'not-replayed': 'Nothing was queued: the delivery is still pending (or no longer stored).',
  paused: 'The connector is paused: its deliveries wait and none goes dead.',
  resumed: 'The connector is running again: what waited is due now.',
  unchanged: 'Nothing changed: the connector was already in that state.',
  reloaded: 'The configuration was reloaded: what changed is under "Last reload".',
  'reload-refused': 'The reload was refused and the running configuration stays: why is under "Last reload".',
  'signed-out': 'You are signed out.',
  expired: 'Your session ended after a while without use; sign in again.',
};

export function noticeOf(value: unknown): string | undefined {
  return typeof value === 'string' && Object.hasOwn(NOTICES, value) ? NOTICES[value] : undefined;
}
