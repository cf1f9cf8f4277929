import type { CheckEnd } from '../../lifecycle/call-checks.js';
import { DUPLICATE } from '../../lifecycle/dedupe.js';
import type { AuditActor, AuditEntry } from '../audit.js';
import type { PruneCut } from '../core/adapter.js';
import type { CallState, CommitResult, ConnectorHealthRecord, DeliveryOutcome, ReplayResult, ReplaySelection, RouteTarget } from '../types.js';
import { createCallWrites } from './calls.js';
import type { Db } from './db.js';
import { createHealthWrites } from './health-writes.js';
import { createOutboxWrites } from './outbox-writes.js';

/** What one accepted event writes, all in one transaction; plain data, so it can cross to the writer thread. */
export interface EventWrite {
  readonly dedupeKey: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string | undefined;
  /** The event as stored and delivered, already serialized. */
  readonly body: string;
  /** The call's row after the event; absent when the event does not change it. */
  readonly call: CallState | undefined;
  readonly targets: readonly RouteTarget[];
  readonly receivedAt: number;
  /** The request it arrived in (`raw_body`, `raw_headers`, see src/store/raw.ts), or null when none is kept. */
  readonly rawBody: Uint8Array | null;
  readonly rawHeaders: string | null;
}

/** Events of one call share this ordering key, so their deliveries leave in the order accepted. */
export function callKeyOf(source: string, callId: string): string {
  return `${source}\u0000${callId}`;
}

const INSERT_EVENT = `INSERT INTO events (dedupe_key, id, source, type, subject, received_at, body, raw_body, raw_headers)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`;

const PRUNE_EVENTS = `DELETE FROM events WHERE seq IN
  (SELECT seq FROM events WHERE received_at < @olderThan
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.status IN ('pending', 'dead'))
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.end_event_seq = events.seq AND c.missed_check_at IS NOT NULL)
      -- A call's summary reads all its events: they stay until it falls due (the watcher takes it then).
      AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.source = events.source AND c.call_id = events.subject
                        AND c.summary_check_at > @now)
    ORDER BY received_at LIMIT @limit)`;

const UPSERT_STATE = `INSERT INTO connector_state (connector, key, value, expires_at) VALUES (?, ?, ?, ?)
  ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`;

/**
 * Every write the SQLite store makes, as synchronous driver code over plain
 * data: the writer runs them (connection-writer.ts), on the caller's connection or on the
 * writer thread's. Each runs inside the group's transaction; one that needs
 * several statements is a transaction of its own (a savepoint inside the group's).
 */
export function createNamedWrites(db: Db) {
  const deliveries = createOutboxWrites(db);
  const health = createHealthWrites(db);
  const calls = createCallWrites(db);
  const insertEvent = db.prepare(INSERT_EVENT);
  const pruneEvents = db.prepare(PRUNE_EVENTS);
  const probe = db.prepare('INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at');
  const expireState = db.prepare('DELETE FROM connector_state WHERE expires_at <= ?');
  const upsertState = db.prepare(UPSERT_STATE);

  return {
    /** An event, its call row and its deliveries; a duplicate (its dedupe key stored already) writes nothing. */
    event(input: EventWrite): CommitResult {
      const inserted = insertEvent.run(
        input.dedupeKey, input.id, input.source, input.type, input.subject ?? null, input.receivedAt, input.body, input.rawBody, input.rawHeaders,
      );
      if (inserted.changes === 0) return DUPLICATE;
      const seq = Number(inserted.lastInsertRowid);
      if (input.call) calls.save(input.call, input.receivedAt);
      const orderKey = input.subject === undefined ? `#${seq}` : callKeyOf(input.source, input.subject);
      for (const target of input.targets) deliveries.insert(seq, target.route, target.connector, orderKey, input.receivedAt);
      return { duplicate: false, targets: input.targets };
    },
    /** Outcomes whose leases the caller has checked (leases.ts `acceptOutcomes`). */
    outcomes(outcomes: readonly DeliveryOutcome[], now: number): void {
      deliveries.writeOutcomes(outcomes, now);
    },
    /** Ends a call's check as the rules planned it (src/lifecycle/call-checks.ts). */
    endCheck(source: string, callId: string, end: CheckEnd, now: number): void {
      if (end.check === 'missed') calls.markNotMissed(source, callId, now);
      else calls.endSummaryCheck(source, callId, end.revision, now);
    },
    replay: (selection: ReplaySelection, now: number, actor: AuditActor | undefined): ReplayResult => deliveries.replay(selection, now, actor),
    purgeDead: (before: number, connector: string | undefined): number => deliveries.purgeDead(before, connector),
    pause: (connector: string, now: number, actor: AuditActor | undefined): boolean => deliveries.pause(connector, now, actor),
    resume: (connector: string, now: number, actor: AuditActor | undefined): boolean => deliveries.resume(connector, now, actor),
    audit: (entry: AuditEntry): void => deliveries.audit(entry),
    pruneAudit: (olderThan: number, limit: number): number => deliveries.pruneAudit(olderThan, limit),
    recordHealth: (next: ConnectorHealthRecord, now: number): boolean => health.record(next, now),
    prune: db.transaction((cut: PruneCut): { events: number; calls: number } => ({
      events: pruneEvents.run(cut).changes,
      calls: calls.prune(cut.olderThan, cut.now, cut.limit),
    })),
    /** A small write that tells whether writes work again (readiness). */
    probe(now: number): void {
      probe.run(now);
    },
    connectorState(connector: string, key: string, value: string, expiresAt: number, now: number): void {
      expireState.run(now);
      upsertState.run(connector, key, value, expiresAt);
    },
  };
}

export type Writes = ReturnType<typeof createNamedWrites>;
export type WriteName = keyof Writes;
/** One write as it travels: its name and its arguments, plain data. */
export type WriteRequest = { [K in WriteName]: { readonly name: K; readonly args: Parameters<Writes[K]> } }[WriteName];
export type WriteResult<K extends WriteName> = ReturnType<Writes[K]>;

/** What each write does, for the message of a failure ("the SQLite store cannot ..."). */
export const WRITE_LABELS: Readonly<Record<WriteName, string>> = {
  event: 'commit an event',
  outcomes: 'record delivery outcomes',
  endCheck: 'end a call check',
  replay: 'replay deliveries',
  purgeDead: 'purge deliveries',
  pause: 'pause a connector',
  resume: 'resume a connector',
  audit: 'record an audit row',
  pruneAudit: 'prune the audit',
  recordHealth: 'record connector health',
  prune: 'prune',
  probe: 'write',
  connectorState: 'write connector state',
};
