import { createHash, timingSafeEqual } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { singleHeader, type VerifyInput } from './types.js';

export interface StaticHeaderOptions {
  readonly name: string;
  readonly value: string;
}

/**
 * For senders whose dashboard only offers "Additional Headers" (seed 004):
 * a fixed header carries a shared value.
 */
export function verifyStaticHeader(input: VerifyInput, options: StaticHeaderOptions): void {
  const given = singleHeader(input.headers, options.name);
  if (given === undefined) {
    throw new VerificationError('AUTH_HEADER_MISSING', `the ${options.name} header is missing`);
  }
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(options.value).digest();
  if (!timingSafeEqual(a, b)) {
    throw new VerificationError('AUTH_HEADER_MISMATCH', `the ${options.name} header does not hold the configured value`);
  }
}
