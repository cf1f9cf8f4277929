import { verifyStaticHeader } from './header.js';
import { checkAudianHmacHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyAudianHmac } from './hmac.js';
import type { ExpiringSecret, Verifier } from './types.js';

export type VerifyConfig =
  | {
      readonly hmac: {
        readonly secrets: readonly string[];
        readonly toleranceSeconds: number;
        /** Read on each request: secrets that come and go while running (a subscription's secrets file). */
        readonly expiring?: () => readonly ExpiringSecret[];
      };
    }
  | { readonly header: { readonly name: string; readonly value: string } }
  | { readonly none: true };

/** Picks the verification scheme a source is configured with. */
export function createVerifier(config: VerifyConfig): Verifier {
  if ('hmac' in config) {
    const { secrets, toleranceSeconds, expiring } = config.hmac;
    return {
      checkHeaders: (headers, now) => checkAudianHmacHeaders(headers, now, { secrets, toleranceSeconds }),
      // The list is taken once per request and handed in with `now`: verification itself stays pure.
      verify: (input) => verifyAudianHmac(input, { secrets, toleranceSeconds, expiring: expiring?.() ?? [] }),
      secretHeaders: [SIGNATURE_HEADER, TIMESTAMP_HEADER],
    };
  }
  if ('header' in config) {
    // The static header does not depend on the body: checked in full before it is read.
    const check = (headers: Parameters<Verifier['checkHeaders']>[0]) => verifyStaticHeader({ rawBody: Buffer.alloc(0), headers, now: 0 }, config.header);
    return { checkHeaders: check, verify: (input) => check(input.headers), secretHeaders: [config.header.name.toLowerCase()] };
  }
  return { checkHeaders: () => undefined, verify: () => undefined, secretHeaders: [] };
}

export type { ExpiringSecret, Verifier, VerifyInput, RequestHeaders } from './types.js';
export { verifyAudianHmac, computeAudianSignature, MAX_SIGNATURES } from './hmac.js';
export { verifyStaticHeader } from './header.js';
export { signAudianRequest } from './sign.js';
