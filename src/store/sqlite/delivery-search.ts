import type { DeliverySearch } from '../operator-reads.js';
import { EVENT_SOURCES } from '../source-walk.js';

/** A delivery's status as the interface knows it: a skipped one is stored as delivered with its reason (migration 5). */
export const STATUS = "CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END";

/** The search's statuses; a skipped delivery is stored as delivered with its reason. */
export const STATUS_FILTER = `(@statuses IS NULL
        OR (d.skip_reason IS NULL AND d.status IN (SELECT value FROM json_each(@statuses)))
        OR (d.skip_reason IS NOT NULL AND 'skipped' IN (SELECT value FROM json_each(@statuses))))`;

/** The search's other filters but the events it starts from. */
export const OTHER_FILTERS = `(@connector IS NULL OR d.connector = @connector) AND (@route IS NULL OR d.route = @route)
    AND (@type IS NULL OR e.type = @type)
    AND (@since IS NULL OR d.created_at >= @since) AND (@until IS NULL OR d.created_at < @until)`;

/**
 * The three ways a search reaches its deliveries, each `SELECT columns ...
 * WHERE where tail`: through the events of `@event`, through the events of
 * call `@call` (by the sources' walk), or down the delivery ids. `CROSS
 * JOIN`s keep SQLite's join order as written.
 */
export const SHAPES = {
  byEvent: (columns: string, where: string, tail = '') => `SELECT ${columns} FROM events m CROSS JOIN deliveries d CROSS JOIN events e
      WHERE m.id = @event AND (@call IS NULL OR m.subject = @call) AND d.event_seq = m.seq AND e.seq = d.event_seq AND ${where}
      ${tail}`,
  byCall: (columns: string, where: string, tail = '') => `WITH RECURSIVE ${EVENT_SOURCES}
     SELECT ${columns} FROM sources CROSS JOIN events e CROSS JOIN deliveries d
      WHERE e.source = sources.source AND e.subject = @call AND d.event_seq = e.seq AND ${where}
      ${tail}`,
  walk: (columns: string, where: string, tail = '') => `SELECT ${columns} FROM deliveries d CROSS JOIN events e WHERE e.seq = d.event_seq AND ${where} ${tail}`,
} as const;

export type Shape = keyof typeof SHAPES;

/** Which way a search goes: the narrowest it names. */
export function shapeOf(search: { readonly event?: string | undefined; readonly call?: string | undefined }): Shape {
  return search.event !== undefined ? 'byEvent' : search.call !== undefined ? 'byCall' : 'walk';
}

/** Every named parameter of the shapes and filters, null where the search leaves it open. */
export interface SearchParams {
  statuses: string | null; connector: string | null; route: string | null; type: string | null; event: string | null;
  call: string | null; since: number | null; until: number | null;
}

export function searchParamsOf(search: Omit<DeliverySearch, 'before' | 'limit'>): SearchParams {
  return {
    statuses: search.statuses ? JSON.stringify(search.statuses) : null,
    connector: search.connector ?? null,
    route: search.route ?? null,
    type: search.type ?? null,
    event: search.event ?? null,
    call: search.call ?? null,
    since: search.since ?? null,
    until: search.until ?? null,
  };
}
