import type { Disposition } from '../../src/lifecycle/summary.js';
import { audianHooksCalls, audianV2Calls, voiceCalls, type CallParties, type CallPayloads } from './call-payloads.js';

/**
 * One call's webhooks for each disposition, per dialect, in the order they
 * happen (call-payloads.ts gives the shapes of the provider's examples).
 */
export const T0 = Date.parse('2026-02-04T10:30:00Z');
export const INBOUND: CallParties = { direction: 'inbound', from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199', tags: { campaign: 'spring' } };

export interface Sequence {
  readonly name: string;
  readonly disposition: Disposition;
  readonly bodies: (calls: CallPayloads, callId: string) => Record<string, unknown>[];
}

const answered: Sequence = {
  name: 'answered',
  disposition: 'answered',
  bodies: (calls, id) => [calls.initiated(id, INBOUND, T0), calls.answered(id, T0 + 8_000), calls.ended(id, 'completed', T0 + 68_000)],
};
const missed: Sequence = {
  name: 'missed',
  disposition: 'missed',
  bodies: (calls, id) => [calls.initiated(id, INBOUND, T0), calls.ended(id, calls.dialect === 'voice' ? 'completed' : 'no_answer', T0 + 30_000)],
};
const busy: Sequence = { name: 'busy', disposition: 'busy', bodies: (calls, id) => [calls.initiated(id, INBOUND, T0), calls.ended(id, 'busy', T0 + 3_000)] };
const cancelled: Sequence = {
  name: 'cancelled',
  disposition: 'cancelled',
  bodies: (calls, id) => [calls.initiated(id, INBOUND, T0), calls.ended(id, 'cancelled', T0 + 12_000)],
};
const failed: Sequence = {
  name: 'failed',
  disposition: 'failed',
  bodies: (calls, id) => [calls.initiated(id, INBOUND, T0), calls.ended(id, 'invalid_number', T0 + 1_000)],
};
/** No seed has a voicemail field: audian.v2 says it in `answered_by`, the others with `voicemail: true` on the ending. */
const voicemail: Sequence = {
  name: 'voicemail',
  disposition: 'voicemail',
  bodies: (calls, id) =>
    calls.dialect === 'audian.v2'
      ? [calls.initiated(id, INBOUND, T0), { ...calls.answered(id, T0 + 20_000), data: { call_id: id, answered_by: 'voicemail', answered_at: new Date(T0 + 20_000).toISOString() } }, calls.ended(id, 'completed', T0 + 50_000)]
      : [calls.initiated(id, INBOUND, T0), calls.answered(id, T0 + 20_000), calls.ended(id, 'completed', T0 + 50_000, { voicemail: true })],
};

export const SEQUENCES_BY_DIALECT: readonly [CallPayloads, readonly Sequence[]][] = [
  [audianV2Calls, [answered, missed, busy, cancelled, failed, voicemail]],
  [audianHooksCalls, [answered, missed, busy, cancelled, failed, voicemail]],
  // The voice dialect has no busy, cancelled or failure event (seed 004).
  [voiceCalls, [answered, missed, voicemail]],
];

