import { signAudianRequest } from '../src/verify/index.js';

export const SECRET = 'whsec_bench';
export const WEBHOOK_PATH = '/webhooks/audian';

export interface Webhook {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * Unique signed webhooks in the three dialects in turn (audian.v2, voice,
 * audian.hooks), spread over `calls` calls; each call goes initiated, answered,
 * ended, then again, so the lifecycle and routing do their usual work.
 */
export function webhooks(run: string, calls: number): () => Webhook {
  let sequence = 0;
  return () => {
    const n = sequence++;
    const callId = `call_${run}_${n % calls}`;
    const step = Math.floor(n / calls) % 3;
    const at = new Date();
    const body = JSON.stringify(payload(n % 3, step, callId, `evt_${run}_${n}`, at, n));
    return { body, headers: { 'content-type': 'application/json', ...signAudianRequest(body, SECRET) } };
  };
}

function payload(dialect: number, step: number, callId: string, id: string, at: Date, n: number): Record<string, unknown> {
  const iso = at.toISOString();
  const parties = { from: '+14155550100', to: '+14155550101' };
  if (dialect === 0) {
    const event = ['call.initiated', 'call.answered', 'call.completed'][step];
    const data = step === 0 ? { call_id: callId, call_type: 'outbound', ...parties, initiated_at: iso } : step === 1 ? { call_id: callId, answered_at: iso } : { call_id: callId, status: 'completed', ended_at: iso, completion_reason: 'normal' };
    return { id, timestamp: iso, event, data };
  }
  if (dialect === 1) {
    // No id in this dialect: the bridge derives it from the body, which `sequence` makes unique.
    const event_type = ['call_initiated', 'call_answered', 'call_ended'][step];
    const extra = step === 0 ? { ...parties, direction: 'outbound' } : step === 2 ? { transcript: [] } : {};
    return { event_type, timestamp_utc: Math.floor(at.getTime() / 1000), payload: { call_id: callId, source: 'salprebox:BENCH', sequence: n, ...extra }, is_test: false };
  }
  const hook = ['channel_create', 'channel_answer', 'channel_destroy'][step];
  const data = step === 0 ? { call_id: callId, call_direction: 'outbound', caller_id_number: parties.from, callee_id_number: parties.to } : step === 2 ? { call_id: callId, hangup_cause: 'NORMAL_CLEARING' } : { call_id: callId };
  return { id, account_id: 'account_bench', hook, timestamp: iso, data };
}
