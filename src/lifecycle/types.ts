import type { CanonicalEvent } from '../dialects/index.js';

/**
 * What the call lifecycle rules read and decide: a call's row, how an event
 * advances it, and the decisions of its two pending checks (missed, summary).
 * The store keeps these and asks the rules; the rules know nothing of it.
 */

/** One call as the bridge knows it: the lifecycle rules compute it, the store keeps it. */
export interface CallState {
  source: string;
  callId: string;
  direction?: string;
  from?: string;
  to?: string;
  fromName?: string;
  status?: string;
  tags?: Record<string, unknown>;
  /** Event time of the earliest initiated/ringing event. */
  startedAt?: string;
  answered: boolean;
  endedAt?: string;
  /** Dedupe key of the event that ended the call; the `call.missed` event is built from it. */
  endEventKey?: string;
  /** no_answer, busy, declined, cancelled, unanswered, completed, or another failure reason. */
  endReason?: string;
  /** When to decide whether the call was missed (ms); set while a decision is pending. */
  missedCheckAt?: number;
  /** The decision, once made; unset while the call is running or its grace period lasts. */
  missed?: 'emitted' | 'not_missed';
  /** When the next `call.summary` revision is due (ms); unset while none is. */
  summaryCheckAt?: number;
  /** The last `call.summary` revision emitted; unset before the first. */
  summaryRevision?: number;
}

export interface CallKey {
  readonly source: string;
  readonly callId: string;
}

export interface RouteTarget {
  readonly route: string;
  readonly connector: string;
}

/** What an event becomes once its call has been advanced: what to store and where it goes. */
export interface Admission {
  /** The event as stored and delivered (e.g. enriched from its call). */
  readonly event: CanonicalEvent;
  /** The call's row after the event; omitted when the event does not change it. */
  readonly call?: CallState;
  /** One delivery each, numbered after every earlier event of the call. */
  readonly targets: readonly RouteTarget[];
}

/**
 * The request an event arrived in, to keep beside it (`store.keep_raw`): the
 * body's bytes and the headers in the order received. The store keeps no
 * value of a header in `secretHeaders` (those its source's verification
 * reads), nor of `Authorization` or `Cookie` (src/store/raw.ts).
 */
export interface RawRequest {
  readonly body: Uint8Array;
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly secretHeaders?: readonly string[];
}

export interface CommitRequest {
  readonly event: CanonicalEvent;
  readonly receivedAt: number;
  /** The request as it arrived, to keep with the event; none for a derived event or with `store.keep_raw: false`. */
  readonly raw?: RawRequest;
  /** Given the stored call (undefined when new or when the event has no subject); may be asynchronous (routing). */
  readonly advance: (stored: CallState | undefined) => Admission | Promise<Admission>;
}

/** A stored event names where its deliveries went (one per target). */
export type CommitResult = { readonly duplicate: true } | { readonly duplicate: false; readonly targets: readonly RouteTarget[] };

/** Given a call whose check is due and its ending event (if still stored): the derived event to commit, or nothing for "not missed". */
export type MissedVerdict = (
  call: CallState,
  ending: CanonicalEvent | undefined,
) => CommitRequest | undefined | Promise<CommitRequest | undefined>;

export type MissedDecision =
  /** Nothing to decide: no such call, its check is not due yet, or it was decided already. */
  | { readonly outcome: 'not_due' }
  | { readonly outcome: 'not_missed' }
  | { readonly outcome: 'emitted'; readonly event: CanonicalEvent; readonly targets: readonly RouteTarget[] }
  /** The derived event's id was taken (another call's ending event had the same id and type); recorded as not missed. */
  | { readonly outcome: 'duplicate' };

/** Given a call whose summary is due and its events: what to commit (the summary last), or nothing to end the check without one. */
export type SummaryVerdict = (
  call: CallState,
  events: readonly CanonicalEvent[],
) => SummaryCommit | undefined | Promise<SummaryCommit | undefined>;

export interface SummaryCommit {
  /** Derived events committed before the summary (e.g. `transcript.completed`); a duplicate among them is ignored. */
  readonly companions: readonly CommitRequest[];
  readonly summary: CommitRequest;
}

export type SummaryDecision =
  /** Nothing to do: no such call, its summary is not due, or another caller took it. */
  | { readonly outcome: 'not_due' }
  /** The verdict had nothing to summarize; the check ended. */
  | { readonly outcome: 'none' }
  | { readonly outcome: 'emitted'; readonly events: readonly CanonicalEvent[]; readonly targets: readonly RouteTarget[] }
  /** The summary's id was taken already; the check ended without it. */
  | { readonly outcome: 'duplicate' };
