import type Router from '@koa/router';
import type { Query } from '../ops/operations.js';
import type { ReconcileReport } from './reconcile.js';

/**
 * The admin API's provider routes (added by src/http/admin.ts when the
 * serving process has them): `GET /admin/subscriptions` (each subscription's
 * source and when it last received an event; no call to the provider) and
 * `GET /admin/subscriptions/{name}/reconcile?since=24h` (the report of
 * `subscriptions reconcile`).
 */
export interface SubscriptionsAdmin {
  list(): Promise<unknown>;
  reconcile(name: string, query: Query): Promise<ReconcileReport>;
}

function queryOf(query: Record<string, string | string[] | undefined>): Query {
  return Object.fromEntries(Object.entries(query).map(([key, value]) => [key, Array.isArray(value) ? value[0] : value]));
}

export function addSubscriptionRoutes(router: Router, admin: SubscriptionsAdmin): void {
  router.get('/admin/subscriptions', async (ctx) => {
    ctx.body = await admin.list();
  });
  router.get('/admin/subscriptions/:name/reconcile', async (ctx) => {
    ctx.body = await admin.reconcile(ctx.params.name as string, queryOf(ctx.query));
  });
}
