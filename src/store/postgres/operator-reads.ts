import type { CanonicalEvent } from '../../dialects/index.js';
import { readActivity, type AttemptRow, type EventRow } from '../activity-reads.js';
import { countFromRows, type ActivityCursor, type CallRecord, type ConnectorError, type DeliverySearch, type EventSearch, type ListedEvent, type OperatorReadsAdapter, type StatusCountRow, type StoredEvent } from '../operator-reads.js';
import { CALL_SOURCES, EVENT_SOURCES } from '../source-walk.js';
import { callFromRow, recordFromRow, type CallRow, type RecordRow } from '../rows.js';
import type { Sql } from './db.js';
import { countQuery, OTHER_FILTERS, shapedQuery, STATUS_FILTER } from './delivery-search.js';

/** A delivery as deliveries.ts reads it. */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector, d.status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

/** A call row that exists (`saved`: a row inserted only to be locked reads as no call, see migrations.ts). */
const CALL_RECORD = 'c.*, NULL::text AS end_event_key';

type CallRecordRow = CallRow & { updated_at: number };
const callRecordOf = (row: CallRecordRow): CallRecord => ({ ...callFromRow(row), updatedAt: row.updated_at });

/** Deliveries matching a search, newest first: through the event or the call's events when named, else down the ids. */
async function searchDeliveries(pool: Sql, search: DeliverySearch) {
  const { before, limit, ...filters } = search;
  const query = shapedQuery(
    filters,
    RECORD_COLUMNS,
    (next) => `${STATUS_FILTER} AND ${OTHER_FILTERS} AND ($${next}::bigint IS NULL OR d.id < $${next})`,
    [before ?? null, limit],
  );
  // The limit is the last value given.
  const { rows } = await pool.query<RecordRow>(`${query.text} ORDER BY d.id DESC LIMIT $${query.values.length}`, query.values);
  return rows.map(recordFromRow);
}

/** The filters of an events list: $1 type ... $5 before, $6 the limit. */
const EVENT_FILTERS = `($1::text IS NULL OR e.type = $1) AND ($2::text IS NULL OR e.source = $2)
    AND ($3::bigint IS NULL OR e.received_at >= $3) AND ($4::bigint IS NULL OR e.received_at < $4) AND ($5::bigint IS NULL OR e.seq < $5)`;

/** Stored events matching a search, newest first: through the call's events when named, else down the sequence. */
async function listEvents(pool: Sql, search: EventSearch): Promise<ListedEvent[]> {
  const filters = [search.type ?? null, search.source ?? null, search.since ?? null, search.until ?? null, search.before ?? null, search.limit];
  const { rows } =
    search.call !== undefined
      ? await pool.query<{ seq: string; body: string; received_at: number }>(
          `WITH RECURSIVE ${EVENT_SOURCES}
           SELECT e.seq, e.body, e.received_at FROM sources JOIN events e ON e.source = sources.source AND e.subject = $7
            WHERE ${EVENT_FILTERS} ORDER BY e.seq DESC LIMIT $6`,
          [...filters, search.call],
        )
      : await pool.query<{ seq: string; body: string; received_at: number }>(
          `SELECT e.seq, e.body, e.received_at FROM events e WHERE ${EVENT_FILTERS} ORDER BY e.seq DESC LIMIT $6`,
          filters,
        );
  return rows.map((row) => ({ seq: Number(row.seq), event: JSON.parse(row.body) as CanonicalEvent, receivedAt: Number(row.received_at) }));
}

/** The operators' reads on the pool; the store core guards them (src/store/core/operator-reads.ts). */
export function createOperatorReads(pool: Sql): OperatorReadsAdapter {
  return {
    searchDeliveries: (search) => searchDeliveries(pool, search),
    listEvents: (search) => listEvents(pool, search),
    async callsWithId(callId) {
      const { rows } = await pool.query<CallRecordRow>(
        `WITH RECURSIVE ${CALL_SOURCES}
         SELECT ${CALL_RECORD} FROM sources JOIN calls c ON c.source = sources.source AND c.call_id = $1 WHERE c.saved ORDER BY c.source`,
        [callId],
      );
      return rows.map(callRecordOf);
    },
    async callsWithNumber(digits, limit) {
      const { rows } = await pool.query<CallRecordRow>(
        `SELECT * FROM (
           (SELECT ${CALL_RECORD} FROM calls c WHERE c.from_digits = $1 AND c.saved ORDER BY c.updated_at DESC LIMIT $2)
           UNION
           (SELECT ${CALL_RECORD} FROM calls c WHERE c.to_digits = $1 AND c.saved ORDER BY c.updated_at DESC LIMIT $2)) found
         ORDER BY updated_at DESC LIMIT $2`,
        [digits, limit],
      );
      return rows.map(callRecordOf);
    },
    async eventsOfCall(callId, limit) {
      const { rows } = await pool.query<{ body: string; received_at: number }>(
        `WITH RECURSIVE ${EVENT_SOURCES}
         SELECT e.body, e.received_at FROM sources JOIN events e ON e.source = sources.source AND e.subject = $1 ORDER BY e.seq LIMIT $2`,
        [callId, limit],
      );
      return rows.map((row): StoredEvent => ({ event: JSON.parse(row.body) as CanonicalEvent, receivedAt: row.received_at }));
    },
    async deliveriesOfCall(callId, limit) {
      const { rows } = await pool.query<RecordRow>(
        `WITH RECURSIVE ${EVENT_SOURCES}
         SELECT ${RECORD_COLUMNS} FROM sources JOIN events e ON e.source = sources.source AND e.subject = $1
           JOIN deliveries d ON d.event_seq = e.seq ORDER BY d.id LIMIT $2`,
        [callId, limit],
      );
      return rows.map(recordFromRow);
    },
    async countDeliveries(search) {
      const query = countQuery(search);
      return countFromRows((await pool.query<StatusCountRow>(query.text, query.values)).rows);
    },
    async lastErrors(connectors) {
      if (connectors.length === 0) return [];
      const { rows } = await pool.query<{ connector: string; id: number; last_error: string; updated_at: number }>(
        `SELECT k.connector, l.id, l.last_error, l.updated_at FROM unnest($1::text[]) AS k (connector)
           CROSS JOIN LATERAL (SELECT id, last_error, updated_at FROM deliveries
                                WHERE connector = k.connector AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1) l`,
        [[...connectors]],
      );
      return rows.map((row): ConnectorError => ({ connector: row.connector, error: row.last_error, at: row.updated_at, deliveryId: row.id }));
    },
    activityAfter: (after, limit) =>
      readActivity(after, limit, {
        end: async () =>
          (await pool.query<ActivityCursor>('SELECT (SELECT coalesce(max(seq), 0) FROM events) AS event, (SELECT coalesce(max(seq), 0) FROM delivery_attempts) AS attempt')).rows[0]!,
        events: async (from, count) => (await pool.query<EventRow>('SELECT seq, body, received_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2', [from, count])).rows,
        attempts: async (from, count) =>
          (
            await pool.query<AttemptRow>(
              `SELECT a.seq, a.delivery_id, a.at, a.outcome, a.error, a.duration_ms, d.connector, d.route, e.id AS event_id, e.type, e.source, e.subject, e.received_at
                 FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN events e ON e.seq = d.event_seq
                WHERE a.seq > $1 ORDER BY a.seq LIMIT $2`,
              [from, count],
            )
          ).rows,
      }),
  };
}
