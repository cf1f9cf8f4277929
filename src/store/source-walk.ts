/**
 * Recursive CTEs, valid in SQLite and PostgreSQL alike, that list the sources
 * by one index seek each (a "loose index scan"): a call id names events and
 * calls without their source, and no index leads with the call id alone
 * (events_call and the calls primary key lead with source), so the operator
 * reads walk the few sources and seek the call within each.
 */

/** `sources (source)`: every source that has events of some call. */
export const EVENT_SOURCES = `sources (source) AS (
  SELECT MIN(source) FROM events WHERE subject IS NOT NULL
  UNION ALL
  SELECT (SELECT MIN(source) FROM events WHERE subject IS NOT NULL AND source > sources.source) FROM sources WHERE sources.source IS NOT NULL)`;

/** `sources (source)`: every source that has calls, by the primary key's leading column. */
export const CALL_SOURCES = `sources (source) AS (
  SELECT MIN(source) FROM calls
  UNION ALL
  SELECT (SELECT MIN(source) FROM calls WHERE source > sources.source) FROM sources WHERE sources.source IS NOT NULL)`;
