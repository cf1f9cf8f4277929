import { BridgeError } from '../../errors.js';
import { callFromRow, type CallRow } from '../rows.js';
import type { CallKey, CallState } from '../types.js';
import type { Sql } from './db.js';

/** A call row as read here: its ending event's key as stored (see `toStoredKey`), decoded by `fromRow`. */
function fromRow(row: CallRow): CallState {
  return callFromRow({ ...row, end_event_key: row.end_event_key === null ? null : fromStoredKey(row.end_event_key) });
}

const CALL_COLUMNS = 'c.*, e.dedupe_key AS end_event_key';
const FROM_CALLS = 'calls c LEFT JOIN events e ON e.seq = c.end_event_seq';

/**
 * Rounds of `callQueries.lock` before a key it cannot find fails the commit. The row a round inserts is locked by
 * that insert and invisible to a prune until the commit ends, so the second round finds every key the database
 * keeps as given; the third is margin.
 */
const LOCK_ROUNDS = 3;

/** Keys the database answers under other text: a lone UTF-16 surrogate, kept as U+FFFD, is one (the receiver refuses it). */
function keyMismatch(missing: readonly CallKey[]): BridgeError {
  const shown = missing.slice(0, 3).map((key) => JSON.stringify(key.callId).slice(0, 80));
  return new BridgeError(
    'STORE_KEY_MISMATCH',
    `the PostgreSQL store cannot find the row of call ${shown.join(', ')} it wrote: the database keeps that text otherwise (a character its encoding cannot hold?); nothing was stored`,
  );
}

/** The call rows, as queries on whatever `Sql` they are given (the pool, or a transaction's client). */
export const callQueries = {
  async get(sql: Sql, source: string, callId: string): Promise<CallState | undefined> {
    const { rows } = await sql.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM ${FROM_CALLS} WHERE c.source = $1 AND c.call_id = $2 AND c.saved`, [source, callId]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  },

  /** Locks the row of one call that exists (inside a transaction) until it ends, and reads it. */
  async lockExisting(sql: Sql, key: CallKey): Promise<CallState | undefined> {
    const { rows } = await sql.query<CallRow>(
      `SELECT ${CALL_COLUMNS} FROM ${FROM_CALLS} WHERE c.source = $1 AND c.call_id = $2 AND c.saved FOR UPDATE OF c`,
      [key.source, key.callId],
    );
    return rows[0] ? fromRow(rows[0]) : undefined;
  },

  /**
   * Locks the rows of `keys` (inside a transaction) until it ends, and reads them.
   * A row lock needs a row: a call not seen before gets an unsaved one first
   * (a new row is locked by its insert). Both statements go in one order, the
   * database's for the key (`ORDER BY ... FOR UPDATE` locks in the order it
   * returns rows), so the keys' order in the array does not matter. A second
   * round covers a row pruned between the insert and the lock; a key still
   * missing after `LOCK_ROUNDS` is one the database keeps as other text than
   * it was given, and fails the commit (STORE_KEY_MISMATCH) instead of waiting
   * with the other calls' rows locked.
   */
  async lock(sql: Sql, keys: readonly CallKey[], now: number): Promise<Map<string, CallState | undefined>> {
    const locked = new Map<string, CallState | undefined>();
    let missing = keys;
    for (let round = 0; missing.length > 0; round++) {
      if (round === LOCK_ROUNDS) throw keyMismatch(missing);
      const sources = missing.map((key) => key.source);
      const callIds = missing.map((key) => key.callId);
      await sql.query(
        `INSERT INTO calls (source, call_id, saved, updated_at)
         SELECT source, call_id, false, $3 FROM unnest($1::text[], $2::text[]) AS k (source, call_id)
          ORDER BY source, call_id
         ON CONFLICT (source, call_id) DO NOTHING`,
        [sources, callIds, now],
      );
      const { rows } = await sql.query<CallRow & { saved: boolean }>(
        `SELECT ${CALL_COLUMNS} FROM ${FROM_CALLS}
          WHERE (c.source, c.call_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY c.source, c.call_id FOR UPDATE OF c`,
        [sources, callIds],
      );
      for (const row of rows) locked.set(callKeyOf(row.source, row.call_id), row.saved ? fromRow(row) : undefined);
      missing = missing.filter((key) => !locked.has(callKeyOf(key.source, key.callId)));
    }
    return locked;
  },

  /**
   * Writes the rows of several calls in one statement, each as `now` of its own. Must run inside the
   * transaction that stored the events named by their `endEventKey`, holding the calls' locks; one entry per call.
   */
  async saveAll(sql: Sql, saves: readonly { readonly state: CallState; readonly now: number }[]): Promise<void> {
    if (saves.length === 0) return;
    const column = <T>(pick: (state: CallState) => T | undefined) => saves.map(({ state }) => pick(state) ?? null);
    await sql.query(
      `INSERT INTO calls (source, call_id, saved, direction, from_number, to_number, from_name, status, tags, started_at,
                          answered, ended_at, end_event_seq, end_reason, missed_check_at, missed, updated_at,
                          summary_check_at, summary_revision)
       SELECT c.source, c.call_id, true, c.direction, c.from_number, c.to_number, c.from_name, c.status, c.tags, c.started_at,
              c.answered, c.ended_at, (SELECT seq FROM events WHERE dedupe_key = c.end_event_key), c.end_reason,
              c.missed_check_at, c.missed, c.updated_at, c.summary_check_at, c.summary_revision
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::boolean[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[], $16::bigint[],
                     $17::bigint[], $18::integer[])
           AS c (source, call_id, direction, from_number, to_number, from_name, status, tags, started_at,
                 answered, ended_at, end_event_key, end_reason, missed_check_at, missed, updated_at,
                 summary_check_at, summary_revision)
       ON CONFLICT (source, call_id) DO UPDATE SET
         saved = true, direction = excluded.direction, from_number = excluded.from_number, to_number = excluded.to_number,
         from_name = excluded.from_name, status = excluded.status, tags = excluded.tags,
         started_at = excluded.started_at, answered = excluded.answered, ended_at = excluded.ended_at,
         end_event_seq = excluded.end_event_seq, end_reason = excluded.end_reason,
         missed_check_at = excluded.missed_check_at, missed = excluded.missed, updated_at = excluded.updated_at,
         summary_check_at = excluded.summary_check_at, summary_revision = excluded.summary_revision`,
      [
        column((state) => state.source),
        column((state) => state.callId),
        column((state) => state.direction),
        column((state) => state.from),
        column((state) => state.to),
        column((state) => state.fromName),
        column((state) => state.status),
        column((state) => (state.tags === undefined ? undefined : JSON.stringify(state.tags))),
        column((state) => state.startedAt),
        column((state) => state.answered),
        column((state) => state.endedAt),
        column((state) => (state.endEventKey === undefined ? undefined : toStoredKey(state.endEventKey))),
        column((state) => state.endReason),
        column((state) => state.missedCheckAt),
        column((state) => state.missed),
        saves.map(({ now }) => now),
        column((state) => state.summaryCheckAt),
        column((state) => state.summaryRevision),
      ],
    );
  },

  /** Calls whose missed-call grace period is over. */
  async dueMissedChecks(sql: Sql, now: number, limit: number): Promise<CallKey[]> {
    const { rows } = await sql.query<{ source: string; call_id: string }>(
      'SELECT source, call_id FROM calls WHERE missed_check_at <= $1 ORDER BY missed_check_at LIMIT $2',
      [now, limit],
    );
    return rows.map((row) => ({ source: row.source, callId: row.call_id }));
  },

  async markNotMissed(sql: Sql, key: CallKey, now: number): Promise<void> {
    await sql.query("UPDATE calls SET missed = 'not_missed', missed_check_at = NULL, updated_at = $1 WHERE source = $2 AND call_id = $3", [
      now,
      key.source,
      key.callId,
    ]);
  },

  /** Calls whose summary is due. */
  async dueSummaries(sql: Sql, now: number, limit: number): Promise<CallKey[]> {
    const { rows } = await sql.query<{ source: string; call_id: string }>(
      'SELECT source, call_id FROM calls WHERE summary_check_at <= $1 ORDER BY summary_check_at LIMIT $2',
      [now, limit],
    );
    return rows.map((row) => ({ source: row.source, callId: row.call_id }));
  },

  /** Ends the call's summary check without a summary committed; `revision` is the one whose id was taken, or 0. */
  async endSummaryCheck(sql: Sql, key: CallKey, revision: number, now: number): Promise<void> {
    await sql.query(
      `UPDATE calls SET summary_check_at = NULL, summary_revision = GREATEST(COALESCE(summary_revision, 0), $1), updated_at = $2
        WHERE source = $3 AND call_id = $4`,
      [revision, now, key.source, key.callId],
    );
  },

  /**
   * Forgets up to `limit` calls untouched since `olderThan` whose missed-call decision is made and whose summary is
   * not still ahead at `now`. A call a commit holds locked is left for the next round rather than waited for.
   */
  async prune(sql: Sql, olderThan: number, now: number, limit: number): Promise<number> {
    const { rowCount } = await sql.query(
      `DELETE FROM calls WHERE (source, call_id) IN
         (SELECT source, call_id FROM calls WHERE updated_at < $1 AND missed_check_at IS NULL AND COALESCE(summary_check_at, 0) <= $2
           ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [olderThan, now, limit],
    );
    return rowCount ?? 0;
  },
};

/**
 * Text in PostgreSQL cannot hold NUL, which separates the parts of a dedupe key (`dedupeKeyOf`): the store keeps
 * keys JSON-encoded, which spells NUL out. Reversible, so the call's `endEventKey` reads back as it was given.
 */
export function toStoredKey(key: string): string {
  return JSON.stringify(key);
}

export function fromStoredKey(stored: string): string {
  return JSON.parse(stored) as string;
}

/** One call (per connector, its deliveries' ordering key); JSON for the same reason as `toStoredKey`. */
export function callKeyOf(source: string, callId: string): string {
  return JSON.stringify([source, callId]);
}
