import type { CanonicalEvent } from '../dialects/index.js';
import type { CallState } from './types.js';

/**
 * The pure rules of `call.summary` (docs/call-lifecycle.md, "Call summaries"): one record
 * per call, built from every stored event of the call, whatever order they
 * arrived in. No clock, no I/O: the summary watcher in `src/accept/` decides
 * when, the store keeps the events and the revision.
 */

/** Events the bridge derives itself: never summarized, and they never ask for a new revision. */
export const DERIVED_TYPES: ReadonlySet<string> = new Set(['call.missed', 'call.summary', 'transcript.completed']);

export type Disposition = 'answered' | 'missed' | 'busy' | 'failed' | 'cancelled' | 'voicemail' | 'unknown';

export interface TranscriptSegment {
  readonly speaker: string | null;
  readonly text: string;
  /** ISO 8601 UTC, or null when the payload gives no readable time. */
  readonly time: string | null;
}

/** A call's transcript: the final one (seed 004 `call_ended.transcript`) wins over live segments when it has any. */
export interface CallTranscript {
  readonly source: 'final' | 'live';
  readonly segments: readonly TranscriptSegment[];
  /** The events it was taken from: the ending event for `final`, each segment's for `live`. */
  readonly eventIds: readonly string[];
}

const ENDING = new Set(['call.completed', 'call.failed', 'call.cancelled']);
const ANSWERING = new Set(['call.answered', 'call.bridged']);
/** `call.failed` reasons where nobody picked up (seed 001); `busy` has its own disposition. */
const UNANSWERED_REASONS = new Set(['no_answer', 'declined']);
/**
 * No seed shows a voicemail field. These are the shapes a payload may use to
 * say a machine took the call: `answered_by` or `completion_reason`
 * `voicemail` / `machine`, or `voicemail: true`.
 */
const VOICEMAIL_VALUES = new Set(['voicemail', 'machine', 'answering_machine']);

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** ISO 8601 UTC from an ISO string or unix seconds (a number or digits); undefined when unreadable. */
export function isoTime(value: unknown): string | undefined {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000;
  else if (typeof value === 'string' && /^\d+$/.test(value)) ms = Number(value) * 1000;
  else if (typeof value === 'string' && value.length > 0) ms = Date.parse(value);
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Events in the order they happened: event time, then acceptance order (the given order). */
function byTime(events: readonly CanonicalEvent[]): CanonicalEvent[] {
  return events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => (a.event.time < b.event.time ? -1 : a.event.time > b.event.time ? 1 : a.index - b.index))
    .map((entry) => entry.event);
}

function saysVoicemail(event: CanonicalEvent): boolean {
  const data = event.data;
  return (
    data.voicemail === true ||
    VOICEMAIL_VALUES.has(String(data.answered_by).toLowerCase()) ||
    VOICEMAIL_VALUES.has(String(data.completion_reason).toLowerCase())
  );
}

/** The ending payload itself says the call was answered (seed 003: `answered_at`, `duration_billable`). */
function endingSaysAnswered(event: CanonicalEvent): boolean {
  return text(event.data.answered_at) !== undefined || (seconds(event.data.duration_billable) ?? 0) > 0;
}

/**
 * How the call ended, from its events (docs/call-lifecycle.md, "Dispositions",
 * lists the payload fields per dialect). An answer wins over a no-answer or cancel
 * cause, as for missed calls; without an ending event the call is `unknown`.
 */
export function dispositionOf(events: readonly CanonicalEvent[]): Disposition {
  const ending = events.find((event) => ENDING.has(event.type));
  if (!ending) return 'unknown';
  if (events.some(saysVoicemail)) return 'voicemail';
  const answered = events.some((event) => ANSWERING.has(event.type) || (ENDING.has(event.type) && endingSaysAnswered(event)));
  if (answered) return 'answered';
  if (ending.type === 'call.cancelled') return 'cancelled';
  if (ending.type === 'call.failed') {
    const reason = String(ending.data.reason);
    if (reason === 'busy') return 'busy';
    return UNANSWERED_REASONS.has(reason) ? 'missed' : 'failed';
  }
  // A normal hangup nobody answered; the voice dialect's `error` before it means the call broke.
  return events.some((event) => event.type === 'call.error') ? 'failed' : 'missed';
}

/** The full transcript an ending event carries (seed 004 `call_ended.transcript`), if it has any line. */
export function finalTranscriptOf(event: CanonicalEvent): TranscriptSegment[] | undefined {
  if (!ENDING.has(event.type)) return undefined;
  const lines = event.data.transcript;
  if (!Array.isArray(lines) || lines.length === 0) return undefined;
  return lines.map((line): TranscriptSegment => {
    const entry = (typeof line === 'object' && line !== null ? line : { message: line }) as Record<string, unknown>;
    return {
      speaker: text(entry.type) ?? text(entry.speaker) ?? null,
      text: typeof entry.message === 'string' ? entry.message : typeof entry.text === 'string' ? entry.text : String(entry.message ?? entry.text ?? ''),
      time: isoTime(entry.utc_timestamp ?? entry.timestamp_utc ?? entry.time) ?? null,
    };
  });
}

/** The segment of a live `transcript.segment` event (seed 004 `transcript`). */
export function segmentOf(event: CanonicalEvent): TranscriptSegment {
  return {
    speaker: text(event.data.speaker) ?? null,
    text: typeof event.data.text === 'string' ? event.data.text : String(event.data.text ?? ''),
    time: event.time,
  };
}

/** The call's transcript, if it has one: the final transcript of its ending, else its live segments in time order. */
export function transcriptOf(events: readonly CanonicalEvent[]): CallTranscript | undefined {
  for (const event of events) {
    const segments = finalTranscriptOf(event);
    if (segments) return { source: 'final', segments, eventIds: [event.id] };
  }
  const live = byTime(events.filter((event) => event.type === 'transcript.segment'));
  if (live.length === 0) return undefined;
  return { source: 'live', segments: live.map(segmentOf), eventIds: live.map((event) => event.id) };
}

function first<T>(events: readonly CanonicalEvent[], pick: (event: CanonicalEvent) => T | undefined): T | undefined {
  for (const event of events) {
    const value = pick(event);
    if (value !== undefined) return value;
  }
  return undefined;
}

function secondsBetween(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  const span = Date.parse(to) - Date.parse(from);
  return Number.isFinite(span) ? Math.max(0, Math.round(span / 1000)) : undefined;
}

/** The fields of a summary, from the call's events in acceptance order; pure. */
export function summarize(call: CallState, accepted: readonly CanonicalEvent[]): Record<string, unknown> {
  const events = byTime(accepted.filter((event) => !DERIVED_TYPES.has(event.type)));
  const ending = events.find((event) => ENDING.has(event.type));
  const disposition = dispositionOf(events);
  const answered = disposition === 'answered' || disposition === 'voicemail';

  const startedAt =
    first(events, (event) => (event.type === 'call.initiated' || event.type === 'call.ringing' ? event.time : undefined)) ??
    first(events, (event) => isoTime(event.data.initiated_at));
  const answeredAt = answered
    ? (first(events, (event) => (ANSWERING.has(event.type) ? (isoTime(event.data.answered_at) ?? event.time) : undefined)) ??
      first(events, (event) => isoTime(event.data.answered_at)))
    : undefined;
  const endedAt = ending ? (isoTime(ending.data.ended_at) ?? ending.time) : undefined;

  const duration = ending ? seconds(ending.data.duration) : undefined;
  const billable = ending ? seconds(ending.data.duration_billable) : undefined;
  const ringSeconds = answered
    ? (secondsBetween(startedAt, answeredAt) ?? first(events, (event) => seconds(event.data.time_to_answer)))
    : // Unanswered: the whole call rang; without a start, its `duration` is the ring time (seed 003 `call.failed`).
      (secondsBetween(startedAt, endedAt) ?? duration);
  const talkSeconds = answered ? (billable ?? secondsBetween(answeredAt, endedAt) ?? duration) : ending ? 0 : undefined;

  // `download_url` of `recording.completed` (seeds 001, 003); `recording_url` where a payload names it so.
  const recordingUrls = [...new Set(events.flatMap((event) => [text(event.data.download_url), text(event.data.recording_url)].filter((url) => url !== undefined)))];
  const tags: Record<string, unknown> = {};
  for (const event of events) {
    const eventTags = event.data.tags;
    if (typeof eventTags === 'object' && eventTags !== null && !Array.isArray(eventTags)) Object.assign(tags, eventTags);
  }
  const transcript = transcriptOf(events);
  const hangupCause = ending ? (text(ending.data.hangup_cause) ?? text(ending.data.reason) ?? text(ending.data.completion_reason) ?? text(ending.data.cancelled_by)) : undefined;

  return {
    call_id: call.callId,
    direction: call.direction ?? first(events, (event) => event.data.call?.direction) ?? null,
    from: call.from ?? first(events, (event) => event.data.call?.from) ?? null,
    from_name: call.fromName ?? first(events, (event) => event.data.call?.from_name) ?? null,
    to: call.to ?? first(events, (event) => event.data.call?.to) ?? null,
    started_at: startedAt ?? null,
    answered_at: answeredAt ?? null,
    ended_at: endedAt ?? null,
    ring_seconds: ringSeconds ?? null,
    talk_seconds: talkSeconds ?? null,
    disposition,
    hangup_cause: hangupCause ?? null,
    recording_urls: recordingUrls,
    transcript: transcript ? { source: transcript.source, segments: transcript.segments.length, event_ids: transcript.eventIds } : null,
    tags,
    events: events.map((event) => event.id),
  };
}

/** The time of the latest summarized event: what the summary is as of. */
function latestTime(events: readonly CanonicalEvent[]): string | undefined {
  let latest: string | undefined;
  for (const event of events) if (!DERIVED_TYPES.has(event.type) && (latest === undefined || event.time > latest)) latest = event.time;
  return latest;
}

/** A derived event of the call, in the dialect and test mode of its first event. */
function derivedEvent(type: string, id: string, call: CallState, events: readonly CanonicalEvent[], data: Record<string, unknown>): CanonicalEvent | undefined {
  const own = events.filter((event) => !DERIVED_TYPES.has(event.type));
  const firstEvent = own[0];
  const time = latestTime(own);
  if (!firstEvent || time === undefined) return undefined;
  const account = first(own, (event) => event.account);
  return {
    specversion: '1.0',
    id,
    source: call.source,
    type,
    subject: call.callId,
    time,
    datacontenttype: 'application/json',
    dialect: firstEvent.dialect,
    test: own.every((event) => event.test),
    ...(account ? { account } : {}),
    data,
  };
}

/**
 * Revision `revision` of the call's `call.summary`, or undefined when the call
 * has no event of its own left to summarize. Its id comes from the call, so a
 * revision is stored (and delivered) at most once.
 */
export function buildSummaryEvent(call: CallState, events: readonly CanonicalEvent[], revision: number): CanonicalEvent | undefined {
  const fields = summarize(call, events);
  return derivedEvent('call.summary', `${call.source}/${call.callId}.summary.${revision}`, call, events, {
    ...fields,
    revision,
    call: {
      id: call.callId,
      ...(typeof fields.direction === 'string' ? { direction: fields.direction } : {}),
      ...(typeof fields.from === 'string' ? { from: fields.from } : {}),
      ...(typeof fields.to === 'string' ? { to: fields.to } : {}),
      ...(typeof fields.from_name === 'string' ? { from_name: fields.from_name } : {}),
    },
  });
}

/** The call's `transcript.completed` for a revision, when the call has a transcript. */
export function buildTranscriptEvent(call: CallState, events: readonly CanonicalEvent[], revision: number): CanonicalEvent | undefined {
  const own = events.filter((event) => !DERIVED_TYPES.has(event.type));
  const transcript = transcriptOf(own);
  if (!transcript) return undefined;
  return derivedEvent('transcript.completed', `${call.source}/${call.callId}.transcript.${revision}`, call, own, {
    call_id: call.callId,
    revision,
    transcript_source: transcript.source,
    segments: transcript.segments,
    events: transcript.eventIds,
    call: { id: call.callId },
  });
}
