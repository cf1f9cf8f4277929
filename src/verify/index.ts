import { verifyStaticHeader } from './header.js';
import { verifyAudianHmac } from './hmac.js';
import type { Verifier } from './types.js';

export type VerifyConfig =
  | { readonly hmac: { readonly secrets: readonly string[]; readonly toleranceSeconds: number } }
  | { readonly header: { readonly name: string; readonly value: string } }
  | { readonly none: true };

/** Picks the verification scheme a source is configured with. */
export function createVerifier(config: VerifyConfig): Verifier {
  if ('hmac' in config) return (input) => verifyAudianHmac(input, config.hmac);
  if ('header' in config) return (input) => verifyStaticHeader(input, config.header);
  return () => undefined;
}

export type { Verifier, VerifyInput, RequestHeaders } from './types.js';
export { verifyAudianHmac, computeAudianSignature } from './hmac.js';
export { verifyStaticHeader } from './header.js';
export { signAudianRequest } from './sign.js';
