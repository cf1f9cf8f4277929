import type pg from 'pg';
import { dedupeKeyOf, DUPLICATE } from '../../lifecycle/dedupe.js';
import type { Admission, CallState, CommitRequest, CommitResult, RawRequest } from '../../lifecycle/types.js';
import { encodeRawHeaders } from '../raw.js';
import { callKeyOf, callQueries, toStoredKey } from './calls.js';
import { contention } from './errors.js';
import { InputFailure } from './group-commit.js';

/** The calls of one transaction, locked, as each commit in it leaves them. */
export type LockedCalls = Map<string, CallState | undefined>;

/** A request whose event was not stored yet, advanced: what the transaction writes for it. */
interface Admitted {
  /** Its place among the requests. */
  readonly index: number;
  readonly dedupeKey: string;
  /** Its call's key; null for an event of no call. */
  readonly orderKey: string | null;
  readonly admission: Admission;
  readonly receivedAt: number;
  /** The request it arrived in, when kept (src/store/raw.ts). */
  readonly raw: RawRequest | undefined;
}

const INSERT_EVENTS = `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body, raw_body, raw_headers)
  SELECT dedupe_key, id, source, type, subject, received_at, body, raw_body, raw_headers
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bytea[], $9::text[])
         WITH ORDINALITY AS e (dedupe_key, id, source, type, subject, received_at, body, raw_body, raw_headers, n)
   ORDER BY n
  ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq, dedupe_key`;

const INSERT_DELIVERIES = `INSERT INTO deliveries (event_seq, route, connector, order_key, status, next_attempt_at, created_at, updated_at, budget_from)
  SELECT seq, route, connector, order_key, 'pending', at, at, at, at
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS d (seq, route, connector, order_key, at, n)
   ORDER BY n`;

/**
 * Stores events inside a transaction that holds their calls' locks (`calls` has each call as this
 * transaction leaves it). Each request is advanced in turn from where the one before left its call, in
 * memory; then all are written in three statements: events, deliveries, call rows. A request whose
 * `advance` throws is reported as an `InputFailure` before anything is written.
 */
export async function admitAll(client: pg.PoolClient, requests: readonly CommitRequest[], calls: LockedCalls): Promise<CommitResult[]> {
  // Under the calls' locks this check is final for an event of a call: another writer of the call has committed.
  const admitted = await advanceAll(requests, await storedKeysOf(client, requests), calls);
  const results: CommitResult[] = requests.map(() => DUPLICATE);
  if (admitted.length === 0) return results;
  const seqOf = await insertEvents(client, admitted);
  // Taken since the check only by a writer that did not hold the call's lock (the same id and type under another
  // call): this group's call rows would then hold an advance of an event it did not store. Run it again whole.
  if (admitted.some((entry) => !seqOf.has(entry.dedupeKey) && entry.admission.call)) {
    throw contention('an event of this group was stored meanwhile by a writer of another call');
  }
  for (const entry of admitted) {
    if (seqOf.has(entry.dedupeKey)) results[entry.index] = { duplicate: false, targets: entry.admission.targets };
  }
  await insertDeliveries(client, admitted, seqOf);
  await callQueries.saveAll(client, lastStates(admitted, seqOf));
  return results;
}

/** Which of the requests' events are stored already, in one query. */
async function storedKeysOf(client: pg.PoolClient, requests: readonly CommitRequest[]): Promise<Set<string>> {
  const keys = requests.map((request) => toStoredKey(dedupeKeyOf(request.event)));
  const { rows } = await client.query<{ dedupe_key: string }>('SELECT dedupe_key FROM events WHERE dedupe_key = ANY($1::text[])', [keys]);
  return new Set(rows.map((row) => row.dedupe_key));
}

/** Advances each request not `stored` (nor a copy of an earlier one) from where the one before left its call. */
async function advanceAll(requests: readonly CommitRequest[], stored: Set<string>, calls: LockedCalls): Promise<Admitted[]> {
  const admitted: Admitted[] = [];
  for (const [index, request] of requests.entries()) {
    const dedupeKey = toStoredKey(dedupeKeyOf(request.event));
    if (stored.has(dedupeKey)) continue;
    stored.add(dedupeKey);
    const { subject, source } = request.event;
    const key = subject === undefined ? undefined : callKeyOf(source, subject);
    let admission: Admission;
    try {
      admission = await request.advance(key === undefined ? undefined : calls.get(key));
    } catch (err) {
      throw new InputFailure(index, err);
    }
    if (admission.call) calls.set(callKeyOf(admission.call.source, admission.call.callId), admission.call);
    admitted.push({ index, dedupeKey, orderKey: key ?? null, admission, receivedAt: request.receivedAt, raw: request.raw });
  }
  return admitted;
}

/**
 * Inserts the events, in order; resolves with the sequence number of each one stored. The unique key
 * decides: another transaction storing one of these events right now makes this insert wait for its
 * COMMIT, then skip that row.
 */
async function insertEvents(client: pg.PoolClient, admitted: readonly Admitted[]): Promise<Map<string, number>> {
  const inserted = await client.query<{ seq: number; dedupe_key: string }>(INSERT_EVENTS, [
    admitted.map((entry) => entry.dedupeKey),
    admitted.map((entry) => entry.admission.event.id),
    admitted.map((entry) => entry.admission.event.source),
    admitted.map((entry) => entry.admission.event.type),
    admitted.map((entry) => entry.admission.event.subject ?? null),
    admitted.map((entry) => entry.receivedAt),
    admitted.map((entry) => JSON.stringify(entry.admission.event)),
    admitted.map((entry) => (entry.raw ? Buffer.from(entry.raw.body.buffer, entry.raw.body.byteOffset, entry.raw.body.byteLength) : null)),
    admitted.map((entry) => (entry.raw ? encodeRawHeaders(entry.raw.headers) : null)),
  ]);
  return new Map(inserted.rows.map((row) => [row.dedupe_key, row.seq]));
}

/**
 * One delivery per target of each event stored. Deliveries of one call share an ordering key so they leave
 * in the order accepted; their ids come from the sequence while the call's lock is held, in arrival order
 * here: the order in which the lock was taken.
 */
async function insertDeliveries(client: pg.PoolClient, admitted: readonly Admitted[], seqOf: ReadonlyMap<string, number>): Promise<void> {
  const outbox = admitted.flatMap((entry) => {
    const seq = seqOf.get(entry.dedupeKey);
    if (seq === undefined) return [];
    return entry.admission.targets.map((target) => ({ seq, target, orderKey: entry.orderKey ?? `#${seq}`, at: entry.receivedAt }));
  });
  await client.query(INSERT_DELIVERIES, [
    outbox.map((row) => row.seq),
    outbox.map((row) => row.target.route),
    outbox.map((row) => row.target.connector),
    outbox.map((row) => row.orderKey),
    outbox.map((row) => row.at),
  ]);
}

/** Each call once, as the last of its events stored left it. */
function lastStates(admitted: readonly Admitted[], seqOf: ReadonlyMap<string, number>): { state: CallState; now: number }[] {
  const saves = new Map<string, { state: CallState; now: number }>();
  for (const entry of admitted) {
    const { call } = entry.admission;
    if (call && seqOf.has(entry.dedupeKey)) saves.set(callKeyOf(call.source, call.callId), { state: call, now: entry.receivedAt });
  }
  return [...saves.values()];
}
