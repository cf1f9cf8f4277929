import { buildEvent, extraEnvelope, idString, isObject, normalizeTypeName, renameKeys, table, toIsoTime } from './common.js';
import type { Dialect, EventData } from './types.js';

const ENVELOPE = ['id', 'account_id', 'hook', 'timestamp', 'data'];

/** Seed 000 field names -> the `audian.v2` vocabulary. */
const RENAMES = table({
  caller_id_number: 'from',
  callee_id_number: 'to',
  caller_id_name: 'from_name',
  duration_seconds: 'duration',
  call_direction: 'call_type',
});

const TYPE_BY_HOOK = table({
  channel_create: 'call.initiated',
  channel_answer: 'call.answered',
  channel_bridge: 'call.bridged',
  object_create: 'object.created',
  object_update: 'object.updated',
  object_delete: 'object.deleted',
});

/** Hangup causes (Q.850 names, as in seed 000's `NORMAL_CLEARING`) that end a call normally. */
const NORMAL_CAUSES = new Set([
  'NORMAL_CLEARING',
  'NORMAL_UNSPECIFIED',
  'SUCCESS',
  'ATTENDED_TRANSFER',
  'BLIND_TRANSFER',
  'PICKED_OFF',
  'LOSE_RACE',
  'MANAGER_REQUEST',
]);

const CANCEL_CAUSES = new Set(['ORIGINATOR_CANCEL']);

/** Failure causes -> the `reason` values of `call.failed` (seed 001) and their codes (seed 003). */
const FAILURE_BY_CAUSE = table({
  NO_ANSWER: 'no_answer',
  NO_USER_RESPONSE: 'no_answer',
  ALLOTTED_TIMEOUT: 'no_answer',
  PROGRESS_TIMEOUT: 'no_answer',
  USER_BUSY: 'busy',
  CALL_REJECTED: 'declined',
  USER_NOT_REGISTERED: 'invalid_number',
  UNALLOCATED_NUMBER: 'invalid_number',
  NO_ROUTE_DESTINATION: 'invalid_number',
  INVALID_NUMBER_FORMAT: 'invalid_number',
  NUMBER_CHANGED: 'invalid_number',
  NETWORK_OUT_OF_ORDER: 'network_error',
  DESTINATION_OUT_OF_ORDER: 'network_error',
  NORMAL_TEMPORARY_FAILURE: 'network_error',
  RECOVERY_ON_TIMER_EXPIRE: 'network_error',
  MEDIA_TIMEOUT: 'network_error',
  SWITCH_CONGESTION: 'network_error',
  NORMAL_CIRCUIT_CONGESTION: 'network_error',
});

const REASON_CODES = table({
  no_answer: 408,
  declined: 603,
  invalid_number: 404,
  busy: 486,
  network_error: 503,
  internal_error: 500,
});

/** `channel_destroy` splits into completed, cancelled or failed by its hangup cause. */
function classifyDestroy(data: EventData): string {
  const cause = typeof data.hangup_cause === 'string' ? data.hangup_cause.toUpperCase() : undefined;
  if (cause === undefined || NORMAL_CAUSES.has(cause)) {
    data.status = 'completed';
    data.completion_reason ??= 'normal';
    return 'call.completed';
  }
  if (CANCEL_CAUSES.has(cause)) {
    data.status = 'cancelled';
    data.cancelled_by ??= 'caller';
    return 'call.cancelled';
  }
  const reason = FAILURE_BY_CAUSE.get(cause) ?? 'internal_error';
  data.status = 'failed';
  data.reason ??= reason;
  data.reason_code ??= REASON_CODES.get(reason);
  return 'call.failed';
}

/** `audian.hooks` (seed 000): `{id, account_id, hook, timestamp, data}` with channel_* / object_* hooks. */
export const audianHooks: Dialect = {
  id: 'audian.hooks',
  detect: (body) => typeof body.hook === 'string' && isObject(body.data),
  normalize(body, context) {
    const hook = (body.hook as string).trim().toLowerCase();
    const data = renameKeys(body.data as Record<string, unknown>, RENAMES);
    const type = hook === 'channel_destroy' ? classifyDestroy(data) : (TYPE_BY_HOOK.get(hook) ?? normalizeTypeName(hook));
    return buildEvent(
      {
        dialect: 'audian.hooks',
        id: idString(body.id),
        type,
        time: toIsoTime(body.timestamp),
        test: body.is_test === true,
        account: idString(body.account_id),
        data,
        envelope: extraEnvelope(body, [...ENVELOPE, 'is_test']),
      },
      context,
    );
  },
};
