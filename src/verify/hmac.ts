import { createHmac, timingSafeEqual } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { singleHeader, type ExpiringSecret, type RequestHeaders, type VerifyInput } from './types.js';

export const SIGNATURE_HEADER = 'x-audian-signature';
export const TIMESTAMP_HEADER = 'x-audian-timestamp';

/** More candidates than any rotation needs; bounds the HMAC work one request can ask for. */
export const MAX_SIGNATURES = 8;

export interface HmacOptions {
  /** Every secret currently valid; during a rotation, the old and the new one. */
  readonly secrets: readonly string[];
  /** More secrets, each accepted only before its expiry (a subscription's secrets file during a rotation). */
  readonly expiring?: readonly ExpiringSecret[];
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

interface SignedHeaders {
  readonly timestamp: string;
  readonly signatures: readonly Buffer[];
}

/**
 * Everything that can be checked without the body: both headers present and
 * well-formed, the timestamp within the tolerance. Run before the body is read,
 * so an unsigned or replayed request costs no body bytes.
 *
 * The signature header may carry several signatures, separated by commas or
 * spaces, each with or without `sha256=`: senders rotating a secret sign with
 * both (as Stripe's and Standard Webhooks' headers do).
 */
function readSignedHeaders(headers: RequestHeaders, now: number, options: HmacOptions): SignedHeaders {
  const header = singleHeader(headers, SIGNATURE_HEADER)?.trim();
  if (!header) {
    throw new VerificationError('SIGNATURE_MISSING', 'the X-Audian-Signature header is missing');
  }
  const timestamp = singleHeader(headers, TIMESTAMP_HEADER)?.trim();
  if (!timestamp) {
    throw new VerificationError('TIMESTAMP_MISSING', 'the X-Audian-Timestamp header is missing');
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new VerificationError('TIMESTAMP_INVALID', 'X-Audian-Timestamp must be unix time in whole seconds');
  }
  const skew = Math.abs(now / 1000 - Number(timestamp));
  if (skew > options.toleranceSeconds) {
    throw new VerificationError(
      'TIMESTAMP_OUT_OF_TOLERANCE',
      `X-Audian-Timestamp is ${Math.round(skew)} s away from this server's clock (tolerance ${options.toleranceSeconds} s): ` +
        'is the clock synchronised, or is this a replayed request?',
    );
  }
  const candidates = header.split(/[\s,]+/).filter((part) => part.length > 0);
  if (candidates.length > MAX_SIGNATURES) {
    throw new VerificationError('SIGNATURE_MALFORMED', `X-Audian-Signature carries more than ${MAX_SIGNATURES} signatures`);
  }
  const signatures = candidates.map((candidate) => {
    const hex = candidate.toLowerCase().startsWith('sha256=') ? candidate.slice('sha256='.length) : candidate;
    if (!HEX_SHA256.test(hex)) {
      throw new VerificationError(
        'SIGNATURE_MALFORMED',
        'X-Audian-Signature must be 64 hex characters, optionally prefixed with "sha256=" (several separated by commas or spaces)',
      );
    }
    return Buffer.from(hex, 'hex');
  });
  return { timestamp, signatures };
}

/** The configured secrets, then the expiring ones not yet expired at `now`. */
export function acceptedSecrets(options: HmacOptions, now: number): string[] {
  const live = (options.expiring ?? []).filter((entry) => entry.expiresAt === undefined || entry.expiresAt > now).map((entry) => entry.secret);
  return [...options.secrets, ...live];
}

export function checkAudianHmacHeaders(headers: RequestHeaders, now: number, options: HmacOptions): void {
  readSignedHeaders(headers, now, options);
}

export function verifyAudianHmac(input: VerifyInput, options: HmacOptions): void {
  const { timestamp, signatures } = readSignedHeaders(input.headers, input.now, options);
  // Compare every secret with every candidate, without stopping at the first match,
  // so timing tells neither which secret nor which candidate matched.
  let matched = false;
  for (const secret of acceptedSecrets(options, input.now)) {
    const expected = Buffer.from(computeAudianSignature(secret, timestamp, input.rawBody), 'hex');
    for (const signature of signatures) if (timingSafeEqual(expected, signature)) matched = true;
  }
  if (!matched) {
    throw new VerificationError(
      'SIGNATURE_MISMATCH',
      'the signature matches none of the configured secrets: is the secret current, and is the raw request body being signed?',
    );
  }
}
