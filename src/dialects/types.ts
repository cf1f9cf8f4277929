export type DialectId = 'audian.v2' | 'audian.hooks' | 'voice';
export const DIALECT_IDS: readonly DialectId[] = ['audian.v2', 'audian.hooks', 'voice'];

/** The canonical types (docs/events.md, "Types"), derived ones included; other types are routed too, but not listed here. */
export const CANONICAL_TYPES: ReadonlySet<string> = new Set([
  'call.initiated', 'call.ringing', 'call.answered', 'call.bridged', 'call.completed', 'call.failed', 'call.cancelled',
  'call.error', 'call.transferred', 'call.held', 'call.resumed', 'call.muted', 'call.unmuted', 'call.missed', 'call.summary',
  'recording.started', 'recording.stopped', 'recording.completed', 'recording.failed',
  'ivr.input_received', 'ivr.menu_presented', 'ivr.timeout', 'transcript.segment', 'transcript.completed',
  'object.created', 'object.updated', 'object.deleted',
]);

/** What is known about the call an event concerns; filled further from the call lifecycle. */
export interface CallInfo {
  id: string;
  direction?: string;
  from?: string;
  to?: string;
  from_name?: string;
  status?: string;
}

export type EventData = Record<string, unknown> & { call?: CallInfo };

/** A CloudEvents 1.0 event in structured JSON form (docs/events.md, "The event"). */
export interface CanonicalEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  dialect: DialectId;
  test: boolean;
  account?: string;
  data: EventData;
}

export type JsonObject = Record<string, unknown>;

/**
 * An integer literal too large for a double, with its digits exactly as sent.
 * The JSON parser yields it instead of a rounded number, so ids stay distinct
 * (9007199254740993 is not 9007199254740992). Normalization turns ids into
 * these digits and every other occurrence back into a number.
 */
export class ExactInteger {
  constructor(readonly digits: string) {}
}

export interface NormalizeContext {
  /** The raw body, for ids derived from it. */
  readonly rawBody: Buffer;
  /** The CloudEvents `source`, e.g. `audian/main`. */
  readonly source: string;
  /** Arrival time in ms; used only when the payload carries no time of its own. */
  readonly receivedAt: number;
}

export interface Dialect {
  readonly id: DialectId;
  /** True when the parsed body has this dialect's envelope. */
  detect(body: JsonObject): boolean;
  normalize(body: JsonObject, context: NormalizeContext): CanonicalEvent;
}
