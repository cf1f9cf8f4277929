import type { CanonicalEvent } from '../../dialects/index.js';
import { readActivity, type AttemptRow, type EventRow } from '../activity-reads.js';
import type { ActivityCursor, CallRecord, ConnectorError, DeliverySearch, OperatorReadsAdapter, StoredEvent } from '../operator-reads.js';
import { CALL_SOURCES, EVENT_SOURCES } from '../source-walk.js';
import { callFromRow, recordFromRow, type CallRow, type RecordRow } from '../rows.js';
import type { Db } from './db.js';

/** A delivery as deliveries.ts reads it: a skipped one is stored as delivered with its reason. */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector,
  CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END AS status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

/** The filters of a search but the events it starts from; `CROSS JOIN`s below keep SQLite's join order as written. */
const FILTERS = `(@statuses IS NULL
        OR (d.skip_reason IS NULL AND d.status IN (SELECT value FROM json_each(@statuses)))
        OR (d.skip_reason IS NOT NULL AND 'skipped' IN (SELECT value FROM json_each(@statuses))))
    AND (@connector IS NULL OR d.connector = @connector) AND (@route IS NULL OR d.route = @route)
    AND (@type IS NULL OR e.type = @type)
    AND (@since IS NULL OR d.created_at >= @since) AND (@until IS NULL OR d.created_at < @until)
    AND (@before IS NULL OR d.id < @before)`;

interface SearchParams {
  statuses: string | null; connector: string | null; route: string | null; type: string | null; event: string | null;
  call: string | null; since: number | null; until: number | null; before: number | null; limit: number;
}

type CallRecordRow = CallRow & { updated_at: number };
const callRecordOf = (row: CallRecordRow): CallRecord => ({ ...callFromRow(row), updatedAt: row.updated_at });

/** Each read's statement; exported for the plan checks of test/integration/operator-reads.test.ts. */
export const SQL = {
  byEvent: `SELECT ${RECORD_COLUMNS} FROM events m CROSS JOIN deliveries d CROSS JOIN events e
      WHERE m.id = @event AND (@call IS NULL OR m.subject = @call) AND d.event_seq = m.seq AND e.seq = d.event_seq AND ${FILTERS}
      ORDER BY d.id DESC LIMIT @limit`,
  byCall: `WITH RECURSIVE ${EVENT_SOURCES}
     SELECT ${RECORD_COLUMNS} FROM sources CROSS JOIN events e CROSS JOIN deliveries d
      WHERE e.source = sources.source AND e.subject = @call AND d.event_seq = e.seq AND ${FILTERS}
      ORDER BY d.id DESC LIMIT @limit`,
  walk: `SELECT ${RECORD_COLUMNS} FROM deliveries d CROSS JOIN events e WHERE e.seq = d.event_seq AND ${FILTERS} ORDER BY d.id DESC LIMIT @limit`,
  callsWithId: `WITH RECURSIVE ${CALL_SOURCES}
     SELECT c.*, NULL AS end_event_key FROM sources CROSS JOIN calls c WHERE c.source = sources.source AND c.call_id = ? ORDER BY c.source`,
  callsWithNumber: `SELECT * FROM (
       SELECT * FROM (SELECT c.*, NULL AS end_event_key FROM calls c WHERE c.from_digits = @digits ORDER BY c.updated_at DESC LIMIT @limit)
       UNION
       SELECT * FROM (SELECT c.*, NULL AS end_event_key FROM calls c WHERE c.to_digits = @digits ORDER BY c.updated_at DESC LIMIT @limit))
     ORDER BY updated_at DESC LIMIT @limit`,
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

/** The operators' reads on the reading connection; the store core guards them (src/store/core/operator-reads.ts). */
export function createOperatorReads(db: Db): OperatorReadsAdapter {
  const byEvent = db.prepare<[SearchParams], RecordRow>(SQL.byEvent);
  const byCall = db.prepare<[SearchParams], RecordRow>(SQL.byCall);
  const walk = db.prepare<[SearchParams], RecordRow>(SQL.walk);
  const callsWithId = db.prepare<[string], CallRecordRow>(SQL.callsWithId);
  const callsWithNumber = db.prepare<[{ digits: string; limit: number }], CallRecordRow>(SQL.callsWithNumber);
  const eventsOfCall = db.prepare<[string, number], { body: string; received_at: number }>(SQL.eventsOfCall);
  const deliveriesOfCall = db.prepare<[string, number], RecordRow>(SQL.deliveriesOfCall);
  const lastError = db.prepare<[string], { id: number; last_error: string; updated_at: number }>(SQL.lastError);
  const eventsAfter = db.prepare<[number, number], EventRow>(SQL.eventsAfter);
  const attemptsAfter = db.prepare<[number, number], AttemptRow>(SQL.attemptsAfter);
  const activityEnd = db.prepare<[], ActivityCursor>(SQL.activityEnd);

  function searchDeliveries(search: DeliverySearch) {
    const params: SearchParams = {
      statuses: search.statuses ? JSON.stringify(search.statuses) : null,
      connector: search.connector ?? null,
      route: search.route ?? null,
      type: search.type ?? null,
      event: search.event ?? null,
      call: search.call ?? null,
      since: search.since ?? null,
      until: search.until ?? null,
      before: search.before ?? null,
      limit: search.limit,
    };
    const statement = params.event !== null ? byEvent : params.call !== null ? byCall : walk;
    return statement.all(params).map(recordFromRow);
  }

  return {
    searchDeliveries,
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
