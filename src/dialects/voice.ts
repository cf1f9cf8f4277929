import { buildEvent, extraEnvelope, isObject, normalizeTypeName, renameKeys, table, toIsoTime } from './common.js';
import type { Dialect, EventData, JsonObject } from './types.js';

const ENVELOPE = ['event_type', 'timestamp_utc', 'payload', 'is_test'];

const TYPE_BY_EVENT = table({
  call_initiated: 'call.initiated',
  call_ringing: 'call.ringing',
  call_answered: 'call.answered',
  call_ended: 'call.completed',
  transcript: 'transcript.segment',
  error: 'call.error',
});

/** Seed 004 names -> the `audian.v2` vocabulary. */
const CALL_RENAMES = table({ id: 'call_id', direction: 'call_type' });
const PAYLOAD_RENAMES = table({ direction: 'call_type' });
/** A live transcript line (seed 004 `transcript`): who spoke and what. */
const SEGMENT_RENAMES = table({ direction: 'call_type', type: 'speaker', transcript: 'text' });

function flatten(type: string, payload: JsonObject): EventData {
  // Some events nest the call (`payload.call`), others put its fields beside the event's.
  const { call, ...rest } = payload;
  const renamed = renameKeys(rest, type === 'transcript.segment' ? SEGMENT_RENAMES : PAYLOAD_RENAMES);
  if (!isObject(call)) return call === undefined ? renamed : { ...renamed, call_raw: call };
  return { ...renameKeys(call, CALL_RENAMES), ...renamed };
}

/**
 * `voice` (seed 004): `{event_type, timestamp_utc, payload, is_test}`. It has no
 * event id, so the id is derived from the raw body.
 */
export const voice: Dialect = {
  id: 'voice',
  detect: (body) => typeof body.event_type === 'string' && isObject(body.payload),
  normalize(body, context) {
    const raw = (body.event_type as string).trim().toLowerCase();
    const type = TYPE_BY_EVENT.get(raw) ?? normalizeTypeName(raw);
    const data = flatten(type, body.payload as JsonObject);
    if (type === 'call.completed') data.status ??= 'completed';
    return buildEvent(
      {
        dialect: 'voice',
        id: undefined,
        type,
        time: toIsoTime(body.timestamp_utc),
        test: body.is_test === true,
        account: undefined,
        data,
        envelope: extraEnvelope(body, ENVELOPE),
      },
      context,
    );
  },
};
