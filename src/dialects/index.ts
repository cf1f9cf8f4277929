import { BridgeError } from '../errors.js';
import { audianHooks } from './audian-hooks.js';
import { audianV2 } from './audian-v2.js';
import { isObject } from './common.js';
import type { CanonicalEvent, Dialect, DialectId, NormalizeContext } from './types.js';
import { voice } from './voice.js';

/** Tried in this order; the envelopes do not overlap, so the order only matters for odd hybrids. */
const DIALECTS: readonly Dialect[] = [audianV2, audianHooks, voice];

/** Finds the payload's dialect and turns it into the canonical event; pure. */
export function normalizePayload(
  body: unknown,
  context: NormalizeContext & { readonly accept?: readonly DialectId[] },
): CanonicalEvent {
  if (!isObject(body)) {
    throw new BridgeError('NOT_AN_OBJECT', 'the body must be a JSON object (an Audian webhook envelope)');
  }
  const dialect = DIALECTS.find((candidate) => candidate.detect(body));
  if (!dialect) {
    throw new BridgeError(
      'UNKNOWN_DIALECT',
      'the JSON matches no known payload dialect: expected "event" + "data" (audian.v2), ' +
        '"hook" + "data" (audian.hooks) or "event_type" + "payload" (voice)',
    );
  }
  if (context.accept && !context.accept.includes(dialect.id)) {
    throw new BridgeError(
      'DIALECT_NOT_ACCEPTED',
      `this source accepts ${context.accept.join(', ')}, but the payload is ${dialect.id}`,
    );
  }
  return dialect.normalize(body, context);
}

export type { CanonicalEvent, CallInfo, Dialect, DialectId, EventData } from './types.js';
export { CANONICAL_TYPES, DIALECT_IDS, ExactInteger } from './types.js';
