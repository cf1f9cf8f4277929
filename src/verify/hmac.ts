import { createHmac, timingSafeEqual } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { singleHeader, type VerifyInput } from './types.js';

export const SIGNATURE_HEADER = 'x-audian-signature';
export const TIMESTAMP_HEADER = 'x-audian-timestamp';

export interface HmacOptions {
  /** Every secret currently valid; during a rotation, the old and the new one. */
  readonly secrets: readonly string[];
  /** Largest accepted distance between the signed timestamp and now, in seconds, either way. */
  readonly toleranceSeconds: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/**
 * Audian's signature (seed 002, "Signature Verification"): hex HMAC-SHA256 over
 * `<X-Audian-Timestamp>.<raw body>`, sent with or without a `sha256=` prefix.
 */
export function computeAudianSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

export function verifyAudianHmac(input: VerifyInput, options: HmacOptions): void {
  const header = singleHeader(input.headers, SIGNATURE_HEADER)?.trim();
  if (!header) {
    throw new VerificationError('SIGNATURE_MISSING', 'the X-Audian-Signature header is missing');
  }
  const timestamp = singleHeader(input.headers, TIMESTAMP_HEADER)?.trim();
  if (!timestamp) {
    throw new VerificationError('TIMESTAMP_MISSING', 'the X-Audian-Timestamp header is missing');
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new VerificationError('TIMESTAMP_INVALID', 'X-Audian-Timestamp must be unix time in whole seconds');
  }
  const skew = Math.abs(input.now / 1000 - Number(timestamp));
  if (skew > options.toleranceSeconds) {
    throw new VerificationError(
      'TIMESTAMP_OUT_OF_TOLERANCE',
      `X-Audian-Timestamp is ${Math.round(skew)} s away from this server's clock (tolerance ${options.toleranceSeconds} s): ` +
        'is the clock synchronised, or is this a replayed request?',
    );
  }
  const given = header.toLowerCase().startsWith('sha256=') ? header.slice('sha256='.length) : header;
  if (!HEX_SHA256.test(given)) {
    throw new VerificationError('SIGNATURE_MALFORMED', 'X-Audian-Signature must be 64 hex characters, optionally prefixed with "sha256="');
  }
  const givenBytes = Buffer.from(given, 'hex');
  // Check every secret, without stopping at the first match, so timing does not tell which secret matched.
  let matched = false;
  for (const secret of options.secrets) {
    const expected = Buffer.from(computeAudianSignature(secret, timestamp, input.rawBody), 'hex');
    if (timingSafeEqual(expected, givenBytes)) matched = true;
  }
  if (!matched) {
    throw new VerificationError(
      'SIGNATURE_MISMATCH',
      'the signature matches none of the configured secrets: is the secret current, and is the raw request body being signed?',
    );
  }
}
