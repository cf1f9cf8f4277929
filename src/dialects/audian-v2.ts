import { buildEvent, extraEnvelope, idString, isObject, normalizeTypeName, toIsoTime } from './common.js';
import type { Dialect } from './types.js';

const ENVELOPE = ['id', 'timestamp', 'event', 'data', 'account_id'];

/**
 * `audian.v2` (seeds 001-003): `{id, timestamp, event, version?, data}`. Its
 * field names are the canonical vocabulary, so `data` passes through as it is.
 */
export const audianV2: Dialect = {
  id: 'audian.v2',
  detect: (body) => typeof body.event === 'string' && isObject(body.data),
  normalize(body, context) {
    const data = { ...(body.data as Record<string, unknown>) };
    return buildEvent(
      {
        dialect: 'audian.v2',
        id: idString(body.id),
        type: normalizeTypeName(body.event as string),
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

