import type { DeliverySearch } from '../operator-reads.js';
import { EVENT_SOURCES } from '../source-walk.js';
import type { DeliveryStatus } from '../types.js';

/** The search's statuses: $1. */
export const STATUS_FILTER = '($1::text[] IS NULL OR d.status = ANY ($1::text[]))';

/** The search's other filters, $2 to $6, but the events it starts from. */
export const OTHER_FILTERS = `($2::text IS NULL OR d.connector = $2) AND ($3::text IS NULL OR d.route = $3) AND ($4::text IS NULL OR e.type = $4)
    AND ($5::bigint IS NULL OR d.created_at >= $5) AND ($6::bigint IS NULL OR d.created_at < $6)`;

/** A search as one statement: its text, built from `columns`, `where` and `tail`, and its values. */
export interface ShapedQuery {
  readonly text: string;
  readonly values: unknown[];
}

/**
 * A statement over the deliveries a search reaches: through the events of
 * its event id, through the events of its call (by the sources' walk), or
 * down the ids. `where` is given the first free parameter number, for the
 * values of `extra` that follow the search's own.
 */
export function shapedQuery(
  search: Omit<DeliverySearch, 'before' | 'limit'>,
  columns: string,
  where: (next: number) => string,
  extra: readonly unknown[] = [],
  tail = '',
): ShapedQuery {
  const values: unknown[] = [
    search.statuses ? [...search.statuses] : null,
    search.connector ?? null,
    search.route ?? null,
    search.type ?? null,
    search.since ?? null,
    search.until ?? null,
  ];
  if (search.event !== undefined) {
    return {
      text: `SELECT ${columns} FROM events m JOIN deliveries d ON d.event_seq = m.seq JOIN events e ON e.seq = d.event_seq
              WHERE m.id = $7 AND ($8::text IS NULL OR m.subject = $8) AND ${where(9)} ${tail}`,
      values: [...values, search.event, search.call ?? null, ...extra],
    };
  }
  if (search.call !== undefined) {
    return {
      text: `WITH RECURSIVE ${EVENT_SOURCES}
             SELECT ${columns} FROM sources JOIN events e ON e.source = sources.source AND e.subject = $7
               JOIN deliveries d ON d.event_seq = e.seq WHERE ${where(8)} ${tail}`,
      values: [...values, search.call, ...extra],
    };
  }
  return { text: `SELECT ${columns} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE ${where(7)} ${tail}`, values: [...values, ...extra] };
}

/** The count a bulk replay shows first: per status, with the newest id. */
export function countQuery(search: Omit<DeliverySearch, 'before' | 'limit'>): ShapedQuery {
  const inner = shapedQuery(search, 'd.id, d.status', () => `${STATUS_FILTER} AND ${OTHER_FILTERS}`);
  return { text: `SELECT status, COUNT(*) AS n, MAX(id) AS newest FROM (${inner.text}) found GROUP BY status`, values: inner.values };
}

/** A bulk replay's deliveries, locked: the search's, up to the newest counted, in its statuses or changed since the count. */
export function candidatesQuery(search: Omit<DeliverySearch, 'before' | 'limit'> & { readonly statuses: readonly DeliveryStatus[] }, upTo: number, asOf: number | undefined): ShapedQuery {
  return shapedQuery(
    search,
    'd.id, d.status, d.updated_at AS "updatedAt"',
    (next) => `${OTHER_FILTERS} AND d.id <= $${next} AND (${STATUS_FILTER} OR ($${next + 1}::bigint IS NOT NULL AND d.updated_at >= $${next + 1}))`,
    [upTo, asOf ?? null],
    'ORDER BY d.id FOR UPDATE OF d',
  );
}
