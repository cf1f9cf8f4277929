import type { DialectId } from '../../src/dialects/index.js';

/**
 * Webhook bodies for one call's life, in each payload dialect, shaped like the
 * provider's examples: `audian.v2` seeds 001-003, `voice` seed 004,
 * `audian.hooks` seed 000 (plus `call_direction` and `caller_id_name`, which
 * its renames map to `call_type` and `from_name`).
 */
export interface CallParties {
  readonly direction?: 'inbound' | 'outbound';
  readonly from?: string;
  readonly to?: string;
  readonly fromName?: string;
  readonly tags?: Record<string, string>;
}

/** How a call ended. `completed` is a normal hangup; the rest are the `call.failed` reasons of seed 001 and `cancelled`. */
export type Ending = 'completed' | 'no_answer' | 'busy' | 'declined' | 'cancelled' | 'invalid_number' | 'network_error';

export interface CallPayloads {
  readonly dialect: DialectId;
  /** The endings this dialect can express. */
  readonly endings: readonly Ending[];
  initiated(callId: string, parties: CallParties, at: number): Record<string, unknown>;
  answered(callId: string, at: number): Record<string, unknown>;
  ended(callId: string, ending: Ending, at: number, extra?: Record<string, unknown>): Record<string, unknown>;
}

const iso = (at: number) => new Date(at).toISOString();
const unix = (at: number) => Math.floor(at / 1000);

const V2_FAILURE_CODES: Readonly<Record<string, number>> = { no_answer: 408, busy: 486, declined: 603, invalid_number: 404, network_error: 503 };

export const audianV2Calls: CallPayloads = {
  dialect: 'audian.v2',
  endings: ['completed', 'no_answer', 'busy', 'declined', 'cancelled', 'invalid_number', 'network_error'],
  initiated: (callId, parties, at) => ({
    id: `evt_${callId}_initiated`,
    timestamp: iso(at),
    event: 'call.initiated',
    data: {
      call_id: callId,
      ...(parties.direction ? { call_type: parties.direction } : {}),
      ...(parties.from ? { from: parties.from } : {}),
      ...(parties.fromName ? { from_name: parties.fromName } : {}),
      ...(parties.to ? { to: parties.to } : {}),
      initiated_at: iso(at),
      ...(parties.tags ? { tags: parties.tags } : {}),
    },
  }),
  answered: (callId, at) => ({
    id: `evt_${callId}_answered`,
    timestamp: iso(at),
    event: 'call.answered',
    data: { call_id: callId, answered_at: iso(at) },
  }),
  ended(callId, ending, at, extra = {}) {
    if (ending === 'completed') {
      return { id: `evt_${callId}_completed`, timestamp: iso(at), event: 'call.completed', data: { call_id: callId, status: 'completed', ended_at: iso(at), completion_reason: 'normal', ...extra } };
    }
    if (ending === 'cancelled') {
      return { id: `evt_${callId}_cancelled`, timestamp: iso(at), event: 'call.cancelled', data: { call_id: callId, status: 'cancelled', cancelled_at: iso(at), cancelled_by: 'caller', ...extra } };
    }
    return {
      id: `evt_${callId}_failed`,
      timestamp: iso(at),
      event: 'call.failed',
      data: { call_id: callId, status: 'failed', reason: ending, reason_code: V2_FAILURE_CODES[ending], failed_at: iso(at), ...extra },
    };
  },
};

/** Seed 004 has no failure events: a call ends with `call_ended`, answered or not. */
export const voiceCalls: CallPayloads = {
  dialect: 'voice',
  endings: ['completed'],
  initiated: (callId, parties, at) => ({
    event_type: 'call_initiated',
    timestamp_utc: unix(at),
    payload: { call_id: callId, from: parties.from, to: parties.to, ...(parties.direction ? { direction: parties.direction } : {}), source: 'salprebox:TEST' },
    is_test: false,
  }),
  answered: (callId, at) => ({ event_type: 'call_answered', timestamp_utc: unix(at), payload: { call_id: callId, source: 'salprebox:TEST' }, is_test: false }),
  ended: (callId, _ending, at, extra = {}) => ({
    event_type: 'call_ended',
    timestamp_utc: unix(at),
    payload: { call_id: callId, source: 'salprebox:TEST', transcript: [], ...extra },
    is_test: false,
  }),
};

const HANGUP_CAUSES: Readonly<Record<Ending, string>> = {
  completed: 'NORMAL_CLEARING',
  no_answer: 'NO_ANSWER',
  busy: 'USER_BUSY',
  declined: 'CALL_REJECTED',
  cancelled: 'ORIGINATOR_CANCEL',
  invalid_number: 'UNALLOCATED_NUMBER',
  network_error: 'NETWORK_OUT_OF_ORDER',
};

export const audianHooksCalls: CallPayloads = {
  dialect: 'audian.hooks',
  endings: ['completed', 'no_answer', 'busy', 'declined', 'cancelled', 'invalid_number', 'network_error'],
  initiated: (callId, parties, at) => ({
    id: `evt_${callId}_create`,
    account_id: 'account_test',
    hook: 'channel_create',
    timestamp: iso(at),
    data: {
      call_id: callId,
      ...(parties.direction ? { call_direction: parties.direction } : {}),
      ...(parties.from ? { caller_id_number: parties.from } : {}),
      ...(parties.fromName ? { caller_id_name: parties.fromName } : {}),
      ...(parties.to ? { callee_id_number: parties.to } : {}),
    },
  }),
  answered: (callId, at) => ({ id: `evt_${callId}_answer`, account_id: 'account_test', hook: 'channel_answer', timestamp: iso(at), data: { call_id: callId } }),
  ended: (callId, ending, at, extra = {}) => ({
    id: `evt_${callId}_destroy`,
    account_id: 'account_test',
    hook: 'channel_destroy',
    timestamp: iso(at),
    data: { call_id: callId, hangup_cause: HANGUP_CAUSES[ending], ...extra },
  }),
};

export const CALL_PAYLOADS: readonly CallPayloads[] = [audianV2Calls, voiceCalls, audianHooksCalls];
