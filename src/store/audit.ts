import type { Awaitable } from './core/availability.js';
import type { DeliveryStatus, ReplayResult, ReplaySelection } from './types.js';

/**
 * The operators' audit: every action an operator takes (signing in and out,
 * replays, pauses, reloads), from the console, the admin API or the CLI,
 * kept in the store beside what it changed. An action that is a store write
 * (a replay, a pause, a resume) writes its row in the same transaction, so
 * neither is ever stored without the other.
 */
export interface AuditStore {
  /** Records an action that is no store write of its own (signing in or out, a reload); resolves once durable. */
  recordAudit(entry: AuditEntry): Promise<void>;
  /** The audit, newest first (page on with `before`, the last id seen). */
  auditLog(page: AuditPage): Promise<AuditRecord[]>;
}

export type AuditAction = 'sign_in' | 'sign_in_failed' | 'sign_out' | 'replay' | 'bulk_replay' | 'pause' | 'resume' | 'reload';

/** Who acted, and from where: a console session, the admin API's bearer token, the CLI on the store itself, or a signal to the process. */
export interface AuditActor {
  readonly via: 'console' | 'api' | 'cli' | 'signal';
  /** `session 1a2b3c4d` (the session id's first characters), `bearer token`, `alice@host` (the CLI's user and host), `SIGHUP`. */
  readonly who: string;
  /** The client's address, where a request carried one. */
  readonly address?: string;
}

/** One action as recorded; `at` is when (ms). */
export interface AuditEntry {
  readonly at: number;
  readonly action: AuditAction;
  readonly actor: AuditActor;
  /** What it acted on: a connector, a delivery, a filter; absent when nothing in particular (a sign-in). */
  readonly target?: string;
  /** How many things it changed (deliveries queued, connectors paused); 0 when nothing changed. */
  readonly count: number;
  /** Further facts as plain JSON (the ids queued, what was skipped and why, the answer of a reload). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}

export interface AuditPage {
  /** Only ids below this one: the cursor of the next page. */
  readonly before?: number;
  readonly limit: number;
}

/** The audit as an adapter gives it to the store core; writes within an action's transaction go through the action itself. */
export interface AuditAdapter {
  record(entry: AuditEntry): Promise<void>;
  log(page: AuditPage): Awaitable<AuditRecord[]>;
  /** Forgets up to `limit` rows recorded before `olderThan`; resolves with how many went. */
  prune(olderThan: number, limit: number): Promise<number>;
}

/** Ids listed in an audit row's detail at most: a bulk replay of thousands keeps its count, not every id. */
export const AUDIT_IDS = 100;

/** The row a replay writes beside its changes: `replay` by ids, `bulk_replay` by a filter, with how many were queued. */
export function replayAudit(selection: ReplaySelection, result: ReplayResult, actor: AuditActor, now: number): AuditEntry {
  const target =
    'ids' in selection ? selection.ids.slice(0, AUDIT_IDS).join(',') : JSON.stringify('search' in selection ? { ...selection.search, upTo: selection.upTo } : selection.filter);
  return {
    at: now,
    action: 'ids' in selection ? 'replay' : 'bulk_replay',
    actor,
    target,
    count: result.queued.length,
    detail: {
      queued: result.queued.slice(0, AUDIT_IDS),
      ...(result.queued.length > AUDIT_IDS ? { queuedNotListed: result.queued.length - AUDIT_IDS } : {}),
      skipped: result.skipped.length,
      ...(result.skipped.length > 0 ? { skippedIds: result.skipped.slice(0, AUDIT_IDS).map((skip) => skip.id) } : {}),
    },
  };
}

/** The row a pause or resume writes beside its change; `count` is 1 when it changed the connector's state. */
export function connectorAudit(action: 'pause' | 'resume', connector: string, changed: boolean, actor: AuditActor, now: number): AuditEntry {
  return { at: now, action, actor, target: connector, count: changed ? 1 : 0 };
}

/** A delivery a bulk replay looked at: its status now, and when it last changed. */
export interface ReplayCandidate {
  readonly id: number;
  readonly status: DeliveryStatus;
  readonly updatedAt: number;
}

/** What a replay does with the deliveries it found: dead ones queued again, delivered (or skipped) ones sent again, the rest skipped with the reason. */
export interface ReplayPlan {
  readonly requeue: number[];
  readonly resend: number[];
  readonly skipped: ReplayResult['skipped'][number][];
}

/**
 * The rule of a bulk replay, the same on every database: of the deliveries
 * with ids up to the newest one counted, those still in the filter's
 * statuses are replayed (a pending one skipped: it is queued already); one
 * that changed after the count (`asOf`) and left them is reported as
 * skipped with its status now: `pending` (someone queued it meanwhile) or
 * `changed`. One that arrived after the count has a higher id and is never
 * looked at.
 */
export function planBulkReplay(candidates: readonly ReplayCandidate[], statuses: readonly DeliveryStatus[], asOf: number | undefined): ReplayPlan {
  const plan: ReplayPlan = { requeue: [], resend: [], skipped: [] };
  for (const candidate of [...candidates].sort((a, b) => a.id - b.id)) {
    if (!statuses.includes(candidate.status)) {
      if (asOf !== undefined && candidate.updatedAt >= asOf) {
        plan.skipped.push({ id: candidate.id, reason: candidate.status === 'pending' ? 'pending' : 'changed', status: candidate.status });
      }
    } else if (candidate.status === 'pending') plan.skipped.push({ id: candidate.id, reason: 'pending' });
    else if (candidate.status === 'dead') plan.requeue.push(candidate.id);
    else plan.resend.push(candidate.id);
  }
  return plan;
}

/** What the plan queued, in id order. */
export function queuedOf(plan: ReplayPlan): number[] {
  return [...plan.requeue, ...plan.resend].sort((a, b) => a - b);
}

/** An `audit_log` row as both SQL stores read it. */
export interface AuditRow {
  id: number; at: number; action: AuditAction; via: AuditActor['via']; actor: string; address: string | null;
  target: string | null; count: number; detail: string | null;
}

/** The columns of an entry, in the order of `AUDIT_COLUMNS`. */
export const AUDIT_COLUMNS = 'at, action, via, actor, address, target, count, detail';

export function auditValuesOf(entry: AuditEntry): [number, string, string, string, string | null, string | null, number, string | null] {
  return [
    entry.at, entry.action, entry.actor.via, entry.actor.who, entry.actor.address ?? null, entry.target ?? null, entry.count,
    entry.detail === undefined ? null : JSON.stringify(entry.detail),
  ];
}

export function auditFromRow(row: AuditRow): AuditRecord {
  return {
    id: Number(row.id),
    at: Number(row.at),
    action: row.action,
    actor: { via: row.via, who: row.actor, ...(row.address === null ? {} : { address: row.address }) },
    ...(row.target === null ? {} : { target: row.target }),
    count: row.count,
    ...(row.detail === null ? {} : { detail: JSON.parse(row.detail) as Record<string, unknown> }),
  };
}
