import type { CallKey, CallState } from '../types.js';
import { callFromRow, type CallRow } from '../rows.js';
import type { Db } from './db.js';

/** The calls as the store reads them, on the reading connection. */
export function createCallReads(db: Db) {
  const select = db.prepare<[string, string], CallRow>(
    `SELECT c.*, e.dedupe_key AS end_event_key FROM calls c LEFT JOIN events e ON e.seq = c.end_event_seq
      WHERE c.source = ? AND c.call_id = ?`,
  );
  const due = db.prepare<[number, number], { source: string; call_id: string }>(
    'SELECT source, call_id FROM calls WHERE missed_check_at <= ? ORDER BY missed_check_at LIMIT ?',
  );
  const summariesDue = db.prepare<[number, number], { source: string; call_id: string }>(
    'SELECT source, call_id FROM calls WHERE summary_check_at <= ? ORDER BY summary_check_at LIMIT ?',
  );

  return {
    get(source: string, callId: string): CallState | undefined {
      const row = select.get(source, callId);
      return row ? callFromRow(row) : undefined;
    },
    /** Calls whose missed-call grace period is over. */
    dueMissedChecks(now: number, limit: number): CallKey[] {
      return due.all(now, limit).map((row) => ({ source: row.source, callId: row.call_id }));
    },
    /** Calls whose summary is due. */
    dueSummaries(now: number, limit: number): CallKey[] {
      return summariesDue.all(now, limit).map((row) => ({ source: row.source, callId: row.call_id }));
    },
  };
}

export type CallReads = ReturnType<typeof createCallReads>;

/** The calls' writes, where the store's writes run (connection-writer.ts). */
export function createCallWrites(db: Db) {
  const upsert = db.prepare(
    `INSERT INTO calls (source, call_id, direction, from_number, to_number, from_name, status, tags, started_at,
                        answered, ended_at, end_event_seq, end_reason, missed_check_at, missed, updated_at,
                        summary_check_at, summary_revision)
     VALUES (@source, @callId, @direction, @from, @to, @fromName, @status, @tags, @startedAt,
             @answered, @endedAt, (SELECT seq FROM events WHERE dedupe_key = @endEventKey), @endReason,
             @missedCheckAt, @missed, @now, @summaryCheckAt, @summaryRevision)
     ON CONFLICT (source, call_id) DO UPDATE SET
       direction = excluded.direction, from_number = excluded.from_number, to_number = excluded.to_number,
       from_name = excluded.from_name, status = excluded.status, tags = excluded.tags,
       started_at = excluded.started_at, answered = excluded.answered, ended_at = excluded.ended_at,
       end_event_seq = excluded.end_event_seq, end_reason = excluded.end_reason,
       missed_check_at = excluded.missed_check_at, missed = excluded.missed, updated_at = excluded.updated_at,
       summary_check_at = excluded.summary_check_at, summary_revision = excluded.summary_revision`,
  );
  const decideNotMissed = db.prepare(
    "UPDATE calls SET missed = 'not_missed', missed_check_at = NULL, updated_at = ? WHERE source = ? AND call_id = ?",
  );
  const endSummaryCheck = db.prepare(
    `UPDATE calls SET summary_check_at = NULL, summary_revision = MAX(COALESCE(summary_revision, 0), ?), updated_at = ?
      WHERE source = ? AND call_id = ?`,
  );
  const prune = db.prepare(
    `DELETE FROM calls WHERE rowid IN
       (SELECT rowid FROM calls WHERE updated_at < ? AND missed_check_at IS NULL AND COALESCE(summary_check_at, 0) <= ?
         ORDER BY updated_at LIMIT ?)`,
  );

  return {
    /** Must run inside the transaction that stored the event named by `endEventKey`. */
    save(state: CallState, now: number): void {
      upsert.run({
        source: state.source,
        callId: state.callId,
        direction: state.direction ?? null,
        from: state.from ?? null,
        to: state.to ?? null,
        fromName: state.fromName ?? null,
        status: state.status ?? null,
        tags: state.tags === undefined ? null : JSON.stringify(state.tags),
        startedAt: state.startedAt ?? null,
        answered: state.answered ? 1 : 0,
        endedAt: state.endedAt ?? null,
        endEventKey: state.endEventKey ?? null,
        endReason: state.endReason ?? null,
        missedCheckAt: state.missedCheckAt ?? null,
        missed: state.missed ?? null,
        summaryCheckAt: state.summaryCheckAt ?? null,
        summaryRevision: state.summaryRevision ?? null,
        now,
      });
    },
    markNotMissed(source: string, callId: string, now: number): void {
      decideNotMissed.run(now, source, callId);
    },
    /** Ends the call's summary check without a summary committed; `revision` is the one whose id was taken, or 0. */
    endSummaryCheck(source: string, callId: string, revision: number, now: number): void {
      endSummaryCheck.run(revision, now, source, callId);
    },
    /** Forgets up to `limit` calls untouched since `olderThan` whose missed-call decision is made and whose summary is not still ahead at `now`. */
    prune(olderThan: number, now: number, limit: number): number {
      return prune.run(olderThan, now, limit).changes;
    },
  };
}
