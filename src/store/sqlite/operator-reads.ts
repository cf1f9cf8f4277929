import type { CanonicalEvent } from '../../dialects/index.js';
import { readActivity, type AttemptRow, type EventRow } from '../activity-reads.js';
import { countFromRows, type ActivityCursor, type CallRecord, type ConnectorError, type DeliveryCount, type DeliverySearch, type EventSearch, type ListedEvent, type OperatorReadsAdapter, type StatusCountRow, type StoredEvent } from '../operator-reads.js';
import { CALL_SOURCES, EVENT_SOURCES } from '../source-walk.js';
import { OTHER_FILTERS, SHAPES, searchParamsOf, shapeOf, STATUS, STATUS_FILTER, type SearchParams, type Shape } from './delivery-search.js';
import { callFromRow, recordFromRow, type CallRow, type RecordRow } from '../rows.js';
import type { Statement } from 'better-sqlite3';
import type { DeliveryStatus } from '../types.js';
import type { Db } from './db.js';

/** A delivery as deliveries.ts reads it: a skipped one is stored as delivered with its reason. */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector,
  CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END AS status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

const FILTERS = `${STATUS_FILTER}
    AND ${OTHER_FILTERS}
    AND (@before IS NULL OR d.id < @before)`;

type PageParams = SearchParams & { before: number | null; limit: number };

/** A count per status, and the newest id, of what a search matches (no page: every match). */
const countOf = (select: string) => `SELECT status, COUNT(*) AS n, MAX(id) AS newest FROM (${select}) GROUP BY status`;

/** A bulk replay's count through an event or a call: their deliveries only. Down the ids it is `countWalkSql`'s. */
const COUNT_SQL = {
  byEvent: countOf(SHAPES.byEvent(`d.id, ${STATUS} AS status`, `${STATUS_FILTER} AND ${OTHER_FILTERS}`)),
  byCall: countOf(SHAPES.byCall(`d.id, ${STATUS} AS status`, `${STATUS_FILTER} AND ${OTHER_FILTERS}`)),
} as const;

/** The filters of an events list but the call it may start from. */
const EVENT_FILTERS = `(@type IS NULL OR e.type = @type) AND (@source IS NULL OR e.source = @source)
    AND (@since IS NULL OR e.received_at >= @since) AND (@until IS NULL OR e.received_at < @until)
    AND (@before IS NULL OR e.seq < @before)`;

interface EventParams {
  type: string | null; source: string | null; call: string | null; since: number | null; until: number | null; before: number | null; limit: number;
}

type CallRecordRow = CallRow & { updated_at: number };
const callRecordOf = (row: CallRecordRow): CallRecord => ({ ...callFromRow(row), updatedAt: row.updated_at });

/** Each read's statement; exported for the plan checks of test/integration/operator-reads.test.ts. */
export const SQL = {
  byEvent: SHAPES.byEvent(RECORD_COLUMNS, FILTERS, 'ORDER BY d.id DESC LIMIT @limit'),
  byCall: SHAPES.byCall(RECORD_COLUMNS, FILTERS, 'ORDER BY d.id DESC LIMIT @limit'),
  callsWithId: `WITH RECURSIVE ${CALL_SOURCES}
     SELECT c.*, NULL AS end_event_key FROM sources CROSS JOIN calls c WHERE c.source = sources.source AND c.call_id = ? ORDER BY c.source`,
  callsWithNumber: `SELECT * FROM (
       SELECT * FROM (SELECT c.*, NULL AS end_event_key FROM calls c WHERE c.from_digits = @digits ORDER BY c.updated_at DESC LIMIT @limit)
       UNION
       SELECT * FROM (SELECT c.*, NULL AS end_event_key FROM calls c WHERE c.to_digits = @digits ORDER BY c.updated_at DESC LIMIT @limit))
     ORDER BY updated_at DESC LIMIT @limit`,
  eventsWalk: `SELECT e.seq, e.body, e.received_at FROM events e WHERE ${EVENT_FILTERS} ORDER BY e.seq DESC LIMIT @limit`,
  eventsByCall: `WITH RECURSIVE ${EVENT_SOURCES}
     SELECT e.seq, e.body, e.received_at FROM sources CROSS JOIN events e
      WHERE e.source = sources.source AND e.subject = @call AND ${EVENT_FILTERS} ORDER BY e.seq DESC LIMIT @limit`,
  eventsOfCall: `WITH RECURSIVE ${EVENT_SOURCES}
     SELECT e.body, e.received_at FROM sources CROSS JOIN events e WHERE e.source = sources.source AND e.subject = ? ORDER BY e.seq LIMIT ?`,
  deliveriesOfCall: `WITH RECURSIVE ${EVENT_SOURCES}
     SELECT ${RECORD_COLUMNS} FROM sources CROSS JOIN events e CROSS JOIN deliveries d
      WHERE e.source = sources.source AND e.subject = ? AND d.event_seq = e.seq ORDER BY d.id LIMIT ?`,
  lastError: 'SELECT id, last_error, updated_at FROM deliveries WHERE connector = ? AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1',
  // By their keys: the events' seq, the attempts' rowid (delivery_attempts has no key of its own).
  eventsAfter: 'SELECT seq, body, received_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
  attemptsAfter: `SELECT a.rowid AS seq, a.delivery_id, a.at, a.outcome, a.error, a.duration_ms, d.connector, d.route,
       e.id AS event_id, e.type, e.source, e.subject, e.received_at
     FROM delivery_attempts a CROSS JOIN deliveries d CROSS JOIN events e
     WHERE a.rowid > ? AND d.id = a.delivery_id AND e.seq = d.event_seq ORDER BY a.rowid LIMIT ?`,
  activityEnd: 'SELECT (SELECT coalesce(max(seq), 0) FROM events) AS event, (SELECT coalesce(max(rowid), 0) FROM delivery_attempts) AS attempt',
} as const;

/** The statuses as stored: a skipped delivery is a delivered one with its reason. */
const STATUS_TERMS: Readonly<Record<DeliveryStatus, string>> = {
  pending: "d.status = 'pending'",
  dead: "d.status = 'dead'",
  delivered: "(d.status = 'delivered' AND d.skip_reason IS NULL)",
  skipped: "(d.status = 'delivered' AND d.skip_reason IS NOT NULL)",
};

/** The terms of a walk down the ids with only the filters given, each a literal term SQLite can plan for. */
function walkTerms(search: Omit<DeliverySearch, 'limit' | 'event' | 'call' | 'before'>): string[] {
  const terms = ['e.seq = d.event_seq'];
  if (search.statuses) terms.push(`(${[...new Set(search.statuses)].map((status) => STATUS_TERMS[status]).join(' OR ')})`);
  if (search.connector !== undefined) terms.push('d.connector = @connector');
  if (search.route !== undefined) terms.push('d.route = @route');
  if (search.type !== undefined) terms.push('e.type = @type');
  if (search.since !== undefined) terms.push('d.created_at >= @since');
  if (search.until !== undefined) terms.push('d.created_at < @until');
  return terms;
}

/**
 * The newest-first walk with only the filters given, so SQLite plans it for
 * them: each status a literal term (the partial indexes of pending and dead
 * deliveries apply), a connector by `deliveries_connector`, and the walk
 * itself a range of the primary key below the cursor (the first page's
 * cursor is past every id), stopped by the limit.
 */
export function walkSql(search: Omit<DeliverySearch, 'limit' | 'event' | 'call' | 'before'>): string {
  return `SELECT ${RECORD_COLUMNS} FROM deliveries d CROSS JOIN events e WHERE ${[...walkTerms(search), 'd.id < @before'].join(' AND ')} ORDER BY d.id DESC LIMIT @limit`;
}

/** A bulk replay's count down the ids: every match of the same terms as the walk, so the same indexes narrow it. */
export function countWalkSql(search: Omit<DeliverySearch, 'limit' | 'event' | 'call' | 'before'>): string {
  return countOf(`SELECT d.id, ${STATUS} AS status FROM deliveries d CROSS JOIN events e WHERE ${walkTerms(search).join(' AND ')}`);
}

/** The operators' reads on the reading connection; the store core guards them (src/store/core/operator-reads.ts). */
export function createOperatorReads(db: Db): OperatorReadsAdapter {
  const pages = {
    byEvent: db.prepare<[PageParams], RecordRow>(SQL.byEvent),
    byCall: db.prepare<[PageParams], RecordRow>(SQL.byCall),
  };
  /** One statement per set of filters given (a few dozen at most), prepared once. */
  const statements = new Map<string, Statement<[never], unknown>>();
  function prepared<Params, Row>(sql: string): Statement<[Params], Row> {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare<[never], unknown>(sql)));
    return statement as unknown as Statement<[Params], Row>;
  }
  const walk = (search: DeliverySearch) => prepared<PageParams, RecordRow>(walkSql(search));
  const counts = {
    byEvent: db.prepare<[SearchParams], StatusCountRow>(COUNT_SQL.byEvent),
    byCall: db.prepare<[SearchParams], StatusCountRow>(COUNT_SQL.byCall),
  };
  const callsWithId = db.prepare<[string], CallRecordRow>(SQL.callsWithId);
  const callsWithNumber = db.prepare<[{ digits: string; limit: number }], CallRecordRow>(SQL.callsWithNumber);
  const eventsWalk = db.prepare<[EventParams], EventRow>(SQL.eventsWalk);
  const eventsByCall = db.prepare<[EventParams], EventRow>(SQL.eventsByCall);
  const eventsOfCall = db.prepare<[string, number], { body: string; received_at: number }>(SQL.eventsOfCall);
  const deliveriesOfCall = db.prepare<[string, number], RecordRow>(SQL.deliveriesOfCall);
  const lastError = db.prepare<[string], { id: number; last_error: string; updated_at: number }>(SQL.lastError);
  const eventsAfter = db.prepare<[number, number], EventRow>(SQL.eventsAfter);
  const attemptsAfter = db.prepare<[number, number], AttemptRow>(SQL.attemptsAfter);
  const activityEnd = db.prepare<[], ActivityCursor>(SQL.activityEnd);

  function searchDeliveries(search: DeliverySearch) {
    const params: PageParams = { ...searchParamsOf(search), before: search.before ?? null, limit: search.limit };
    const shape = shapeOf(search);
    if (shape !== 'walk') return pages[shape].all(params).map(recordFromRow);
    return walk(search).all({ ...params, before: search.before ?? Number.MAX_SAFE_INTEGER }).map(recordFromRow);
  }

  function countDeliveries(search: Omit<DeliverySearch, 'before' | 'limit'>): DeliveryCount {
    const shape = shapeOf(search);
    const statement = shape === 'walk' ? prepared<SearchParams, StatusCountRow>(countWalkSql(search)) : counts[shape];
    return countFromRows(statement.all(searchParamsOf(search)));
  }

  function listEvents(search: EventSearch): ListedEvent[] {
    const params: EventParams = {
      type: search.type ?? null,
      source: search.source ?? null,
      call: search.call ?? null,
      since: search.since ?? null,
      until: search.until ?? null,
      before: search.before ?? null,
      limit: search.limit,
    };
    const rows = (params.call !== null ? eventsByCall : eventsWalk).all(params);
    return rows.map((row) => ({ seq: row.seq, event: JSON.parse(row.body) as CanonicalEvent, receivedAt: row.received_at }));
  }

  return {
    searchDeliveries,
    countDeliveries,
    listEvents,
    callsWithId: (callId) => callsWithId.all(callId).map(callRecordOf),
    callsWithNumber: (digits, limit) => callsWithNumber.all({ digits, limit }).map(callRecordOf),
    eventsOfCall: (callId, limit) =>
      eventsOfCall.all(callId, limit).map((row): StoredEvent => ({ event: JSON.parse(row.body) as CanonicalEvent, receivedAt: row.received_at })),
    deliveriesOfCall: (callId, limit) => deliveriesOfCall.all(callId, limit).map(recordFromRow),
    lastErrors: (connectors) =>
      connectors.flatMap((connector): ConnectorError[] => {
        const row = lastError.get(connector);
        return row ? [{ connector, error: row.last_error, at: row.updated_at, deliveryId: row.id }] : [];
      }),
    activityAfter: (after, limit) =>
      readActivity(after, limit, {
        end: () => activityEnd.get()!,
        events: (from, count) => eventsAfter.all(from, count),
        attempts: (from, count) => attemptsAfter.all(from, count),
      }),
  };
}
