import type { Store } from '../src/store/index.js';

/**
 * Every read a console page or an admin list makes, as a call on the store,
 * in one place: the index test (test/integration/page-indexes.test.ts)
 * explains each statement these calls run, and the bench (bench/pages.ts)
 * times them, on a store built by `buildScaleStore` (scale-store.ts). A page
 * that gains a read gets a line here.
 *
 * The values name rows the built store has: `call-{n}`, `evt-{n}`,
 * connectors `crm` and `events`, routes `crm` and `all`, numbers
 * `+1415555{nnnn}`.
 */
export interface PageRead {
  /** `page: what`, for messages and the bench's JSON. */
  readonly name: string;
  readonly read: (store: Store, at: ScaleFacts) => Promise<unknown>;
}

/** What the built store holds, for reads that need an id from it. */
export interface ScaleFacts {
  /** The newest delivery id. */
  readonly newestDelivery: number;
  /** A dead delivery's id. */
  readonly deadDelivery: number;
  /** When the newest event arrived (ms). */
  readonly newest: number;
}

const PAGE = 50;
const HOUR = 3600_000;

export const PAGE_READS: readonly PageRead[] = [
  { name: 'overview: pending per connector', read: (store) => store.pendingStats() },
  { name: 'overview: dead per connector', read: (store) => store.deadStats() },
  { name: 'overview: paused connectors', read: (store) => store.paused() },
  { name: 'overview: last errors', read: (store) => store.lastErrors(['crm', 'events']) },
  { name: 'deliveries: newest', read: (store) => store.searchDeliveries({ limit: PAGE }) },
  { name: 'deliveries: next page', read: (store, at) => store.searchDeliveries({ limit: PAGE, before: at.newestDelivery - 500_000 }) },
  { name: 'deliveries: dead', read: (store) => store.searchDeliveries({ statuses: ['dead'], limit: PAGE }) },
  { name: 'deliveries: dead and pending of a connector', read: (store) => store.searchDeliveries({ statuses: ['dead', 'pending'], connector: 'crm', limit: PAGE }) },
  { name: 'deliveries: a connector', read: (store) => store.searchDeliveries({ connector: 'crm', limit: PAGE }) },
  { name: 'deliveries: a route and a type', read: (store) => store.searchDeliveries({ route: 'crm', type: 'call.completed', limit: PAGE }) },
  { name: 'deliveries: the last hour', read: (store, at) => store.searchDeliveries({ since: at.newest - HOUR, until: at.newest, limit: PAGE }) },
  { name: 'deliveries: a call', read: (store) => store.searchDeliveries({ call: 'call-4242', limit: PAGE }) },
  { name: 'deliveries: an event', read: (store) => store.searchDeliveries({ event: 'evt-4242', limit: PAGE }) },
  { name: 'delivery: one with its attempts', read: (store, at) => store.delivery(at.deadDelivery) },
  { name: 'event: by id', read: (store) => store.trace('evt-4242') },
  { name: 'calls: by id', read: (store) => store.callsWithId('call-4242') },
  { name: 'calls: by number', read: (store) => store.callsWithNumber('14155554242', PAGE) },
  { name: 'call: its events', read: (store) => store.eventsOfCall('call-4242', 1000) },
  { name: 'call: its deliveries', read: (store) => store.deliveriesOfCall('call-4242', 1000) },
  { name: 'admin: deliveries, a page of 1000', read: (store) => store.searchDeliveries({ statuses: ['delivered', 'skipped'], limit: 1000 }) },
];
