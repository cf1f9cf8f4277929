import type { CanonicalEvent, ConnectorState } from '../../src/sdk/index.js';

/** A posted alert that later messages reply to. */
export interface ThreadRef {
  /** The channel ID Slack answered with (replies must go to the same channel). */
  readonly channel: string;
  readonly ts: string;
  /** Until when follow-ups join this thread (ms). */
  readonly until: number;
}

/** Digits and a leading `+`; `anonymous` and the like give nothing. */
function normalizeNumber(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const digits = value.replace(/[^\d+]/g, '').replace(/(?!^)\+/g, '');
  return /\d{3,}/.test(digits) ? digits : undefined;
}

/**
 * The number of the party outside: who called in, or who was called out to.
 * A callback (an outbound call to the number that was missed) and a repeated
 * call from it both share the missed call's party.
 */
export function partyOf(event: CanonicalEvent): string | undefined {
  const call = event.data.call;
  const direction = call?.direction ?? event.data.call_type;
  const number = direction === 'outbound' ? (call?.to ?? event.data.to) : (event.data.from ?? call?.from);
  return normalizeNumber(number);
}

export { memoryState } from '../../src/sdk/index.js';

/**
 * Which alert thread an event belongs to, kept in the connector's durable
 * state so threads survive restarts. Keys: the call itself (later events of
 * the alerted call) and the outside party's number within `windowMs` of the
 * alert (callbacks, repeated calls).
 */
export function createThreads(state: ConnectorState, channel: string, windowMs: number, now: () => number) {
  const callKey = (event: CanonicalEvent) => (event.subject === undefined ? undefined : `thread:call:${channel}\u0000${event.source}\u0000${event.subject}`);
  const partyKey = (event: CanonicalEvent) => {
    const party = partyOf(event);
    return party === undefined ? undefined : `thread:party:${channel}\u0000${party}`;
  };

  async function read(key: string | undefined): Promise<ThreadRef | undefined> {
    const raw = key === undefined ? undefined : await state.get(key);
    if (raw === undefined) return undefined;
    try {
      const ref = JSON.parse(raw) as ThreadRef;
      return typeof ref.ts === 'string' && typeof ref.channel === 'string' ? ref : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    async find(event: CanonicalEvent): Promise<ThreadRef | undefined> {
      return (await read(callKey(event))) ?? (await read(partyKey(event)));
    },
    /** Records a new alert as the thread of its call and its party. */
    async open(event: CanonicalEvent, posted: { channel: string; ts: string }): Promise<void> {
      const ref: ThreadRef = { ...posted, until: now() + windowMs };
      for (const key of [callKey(event), partyKey(event)]) if (key) await state.set(key, JSON.stringify(ref), ref.until);
    },
    /** Later events of this call follow the same thread, even without a party number. */
    async join(event: CanonicalEvent, ref: ThreadRef): Promise<void> {
      const key = callKey(event);
      if (key && ref.until > now()) await state.set(key, JSON.stringify(ref), ref.until);
    },
  };
}

/** A channel's alert threads (createThreads). */
export type Threads = ReturnType<typeof createThreads>;
