import { computeAudianSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './hmac.js';

/**
 * Builds the headers Audian would send for `body`: for tests, the CLI's `sign`
 * command and anyone replaying an event by hand.
 */
export function signAudianRequest(
  body: Buffer | string,
  secret: string,
  options: { timestamp?: number; prefix?: boolean } = {},
): Record<string, string> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = computeAudianSignature(secret, timestamp, body);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: options.prefix === false ? signature : `sha256=${signature}`,
  };
}
