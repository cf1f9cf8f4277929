import type { AttemptRecord, ConnectorHealthRecord, DeadStats, DeliveryDetail, DeliveryFilter, DeliveryRecord, PauseRecord, PendingStats } from '../types.js';
import { recordFromRow, type RecordRow } from '../rows.js';
import type { Db } from './db.js';

/**
 * The columns a `RecordRow` reads, from deliveries `d` joined with events `e`. A skipped delivery is stored
 * as delivered with its reason (migration 5) and read back as 'skipped'.
 */
const RECORD_COLUMNS = `d.id, e.id AS event_id, e.type, e.source, e.subject, d.route, d.connector,
  CASE WHEN d.skip_reason IS NOT NULL THEN 'skipped' ELSE d.status END AS status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.replay, d.skip_reason`;

const FROM_DELIVERIES = 'FROM deliveries d JOIN events e ON e.seq = d.event_seq';

const LIST = `SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES}
  WHERE (@status IS NULL
         OR (@status = 'skipped' AND d.skip_reason IS NOT NULL)
         OR (d.status = @status AND d.skip_reason IS NULL))
    AND (@connector IS NULL OR d.connector = @connector)
    AND (@route IS NULL OR d.route = @route) AND (@event IS NULL OR e.id = @event)
    AND (@call IS NULL OR e.subject = @call) AND (@since IS NULL OR d.created_at >= @since)
    AND (@before IS NULL OR d.id < @before)
  ORDER BY d.id DESC LIMIT @limit`;

type ListParams = { status: string | null; connector: string | null; route: string | null; event: string | null; call: string | null; since: number | null; before: number | null; limit: number };

/** The outbox as the dispatcher and operators read it, on the reading connection. */
export function createOutboxReads(db: Db) {
  const nextDue = db.prepare<[string], { at: number | null }>("SELECT MIN(next_attempt_at) AS at FROM deliveries WHERE connector = ? AND status = 'pending'");
  const pendingStats = db.prepare<[], PendingStats>(
    "SELECT connector, COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending' GROUP BY connector",
  );
  const deadStats = db.prepare<[], DeadStats>("SELECT connector, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY connector");
  const list = db.prepare<[ListParams], RecordRow>(LIST);
  const one = db.prepare<[number], RecordRow>(`SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES} WHERE d.id = ?`);
  const ofEvent = db.prepare<[number], RecordRow>(`SELECT ${RECORD_COLUMNS} ${FROM_DELIVERIES} WHERE d.event_seq = ? ORDER BY d.id`);
  const history = db.prepare<[number], { at: number; outcome: AttemptRecord['outcome']; error: string | null; duration_ms: number | null }>(
    'SELECT at, outcome, error, duration_ms FROM delivery_attempts WHERE delivery_id = ? ORDER BY rowid',
  );
  const isPaused = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM connector_pauses WHERE connector = ?');
  const pauses = db.prepare<[], { connector: string; paused_at: number }>('SELECT connector, paused_at FROM connector_pauses ORDER BY connector');
  const health = db.prepare<[], ConnectorHealthRecord>('SELECT connector, state, since, reason, until, flaps, version FROM connector_health ORDER BY connector');

  return {
    isPaused: (connector: string): boolean => isPaused.get(connector) !== undefined,
    nextDueAt(connector: string): number | undefined {
      if (isPaused.get(connector)) return undefined;
      return nextDue.get(connector)?.at ?? undefined;
    },
    pendingStats: (): PendingStats[] => pendingStats.all(),
    deadStats: (): DeadStats[] => deadStats.all(),
    list(filter: DeliveryFilter): DeliveryRecord[] {
      const { status, connector, route, event, call, since, before } = filter;
      const params = { status: status ?? null, connector: connector ?? null, route: route ?? null, event: event ?? null, call: call ?? null, since: since ?? null, before: before ?? null };
      return list.all({ ...params, limit: filter.limit ?? 100 }).map(recordFromRow);
    },
    delivery(id: number): DeliveryDetail | undefined {
      const row = one.get(id);
      if (!row) return undefined;
      const attempts = history.all(id).map((entry) => ({ at: entry.at, outcome: entry.outcome, error: entry.error, durationMs: entry.duration_ms }));
      return { ...recordFromRow(row), history: attempts };
    },
    /** The deliveries of one stored event (by its sequence number), in creation order. */
    ofEvent: (eventSeq: number): DeliveryRecord[] => ofEvent.all(eventSeq).map(recordFromRow),
    paused: (): PauseRecord[] => pauses.all().map((row) => ({ connector: row.connector, since: row.paused_at })),
    connectorHealth: (): ConnectorHealthRecord[] => health.all(),
  };
}

export type OutboxReads = ReturnType<typeof createOutboxReads>;
