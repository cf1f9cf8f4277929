import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/errors.js';
import { computeAudianSignature, createVerifier, MAX_SIGNATURES, signAudianRequest, verifyAudianHmac, verifyStaticHeader } from '../../src/verify/index.js';

// A fixed vector, computed independently (Python's hmac module) from the
// scheme of seed 002: hex HMAC-SHA256 over "<timestamp>.<raw body>".
const KNOWN = {
  secret: 'whsec_known_answer',
  timestamp: '1705315800',
  body: '{"id":"evt_kat","timestamp":"2024-01-15T10:30:00Z","event":"call.completed","data":{"call_id":"call_kat"}}',
  signature: '30cf938528e4468767fa146d29c809e2d559bd3e4d33a120ff0aa0cce70b1fd0',
};
const KNOWN_NOW = Number(KNOWN.timestamp) * 1000;
const options = { secrets: [KNOWN.secret], toleranceSeconds: 300 };

function codeOf(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (!(err instanceof BridgeError)) throw err;
    expect(err.status).toBe(401);
    return err.code;
  }
}

function verify(headers: Record<string, string>, body = KNOWN.body, now = KNOWN_NOW, secrets = options.secrets) {
  return codeOf(() => verifyAudianHmac({ rawBody: Buffer.from(body), headers, now }, { secrets, toleranceSeconds: 300 }));
}

describe('Audian HMAC', () => {
  it('matches the known-answer vector', () => {
    expect(computeAudianSignature(KNOWN.secret, KNOWN.timestamp, KNOWN.body)).toBe(KNOWN.signature);
    expect(computeAudianSignature(KNOWN.secret, KNOWN.timestamp, Buffer.from(KNOWN.body))).toBe(KNOWN.signature);
  });

  it('accepts the signature with and without the sha256= prefix', () => {
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': `sha256=${KNOWN.signature}` })).toBeUndefined();
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': KNOWN.signature })).toBeUndefined();
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': KNOWN.signature.toUpperCase() })).toBeUndefined();
  });

  it('the signer produces both header forms', () => {
    const prefixed = signAudianRequest(KNOWN.body, KNOWN.secret, { timestamp: Number(KNOWN.timestamp) });
    expect(prefixed).toEqual({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': `sha256=${KNOWN.signature}` });
    const bare = signAudianRequest(KNOWN.body, KNOWN.secret, { timestamp: Number(KNOWN.timestamp), prefix: false });
    expect(bare['x-audian-signature']).toBe(KNOWN.signature);
  });

  it('accepts any of several secrets during a rotation', () => {
    const headers = signAudianRequest(KNOWN.body, 'whsec_new', { timestamp: Number(KNOWN.timestamp) });
    expect(verify(headers, KNOWN.body, KNOWN_NOW, ['whsec_old', 'whsec_new'])).toBeUndefined();
    const old = signAudianRequest(KNOWN.body, 'whsec_old', { timestamp: Number(KNOWN.timestamp) });
    expect(verify(old, KNOWN.body, KNOWN_NOW, ['whsec_old', 'whsec_new'])).toBeUndefined();
    expect(verify(old, KNOWN.body, KNOWN_NOW, ['whsec_new'])).toBe('SIGNATURE_MISMATCH');
  });

  it('rejects stale and future timestamps beyond the tolerance, in both directions', () => {
    const headers = { 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': KNOWN.signature };
    expect(verify(headers, KNOWN.body, KNOWN_NOW + 300_000)).toBeUndefined();
    expect(verify(headers, KNOWN.body, KNOWN_NOW - 300_000)).toBeUndefined();
    expect(verify(headers, KNOWN.body, KNOWN_NOW + 301_000)).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    expect(verify(headers, KNOWN.body, KNOWN_NOW - 301_000)).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
  });

  it('rejects a wrong secret', () => {
    const headers = signAudianRequest(KNOWN.body, 'whsec_someone_else', { timestamp: Number(KNOWN.timestamp) });
    expect(verify(headers)).toBe('SIGNATURE_MISMATCH');
  });

  it('rejects a body altered by one byte', () => {
    const headers = { 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': KNOWN.signature };
    const altered = KNOWN.body.replace('call_kat', 'call_kau');
    expect(altered).toHaveLength(KNOWN.body.length);
    expect(verify(headers, altered)).toBe('SIGNATURE_MISMATCH');
    expect(verify(headers, `${KNOWN.body} `)).toBe('SIGNATURE_MISMATCH');
  });

  it('rejects a signature made for another timestamp', () => {
    const headers = { 'x-audian-timestamp': String(Number(KNOWN.timestamp) + 1), 'x-audian-signature': KNOWN.signature };
    expect(verify(headers)).toBe('SIGNATURE_MISMATCH');
  });

  it('names each missing or malformed header', () => {
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp })).toBe('SIGNATURE_MISSING');
    expect(verify({ 'x-audian-signature': KNOWN.signature })).toBe('TIMESTAMP_MISSING');
    expect(verify({})).toBe('SIGNATURE_MISSING');
    expect(verify({ 'x-audian-timestamp': '2024-01-15T10:30:00Z', 'x-audian-signature': KNOWN.signature })).toBe('TIMESTAMP_INVALID');
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': 'sha256=nothex' })).toBe('SIGNATURE_MALFORMED');
    expect(verify({ 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': KNOWN.signature.slice(2) })).toBe('SIGNATURE_MALFORMED');
  });

  it('never echoes a secret in its messages', () => {
    try {
      verifyAudianHmac({ rawBody: Buffer.from(KNOWN.body), headers: { 'x-audian-timestamp': KNOWN.timestamp, 'x-audian-signature': '0'.repeat(64) }, now: KNOWN_NOW }, options);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(KNOWN.secret);
    }
  });
});

describe('static header', () => {
  const header = { name: 'X-Api-Key', value: 'k3y-value' };
  const check = (headers: Record<string, string>) => codeOf(() => verifyStaticHeader({ rawBody: Buffer.alloc(0), headers, now: 0 }, header));

  it('accepts the configured value under the header name, case-insensitively', () => {
    expect(check({ 'x-api-key': 'k3y-value' })).toBeUndefined();
  });
  it('rejects a missing header, a wrong value and a prefix of the value', () => {
    expect(check({})).toBe('AUTH_HEADER_MISSING');
    expect(check({ 'x-api-key': 'k3y-valuE' })).toBe('AUTH_HEADER_MISMATCH');
    expect(check({ 'x-api-key': 'k3y' })).toBe('AUTH_HEADER_MISMATCH');
  });
});

describe('createVerifier', () => {
  it('picks the scheme of the configuration', () => {
    const input = { rawBody: Buffer.from(KNOWN.body), headers: {}, now: KNOWN_NOW };
    expect(codeOf(() => createVerifier({ hmac: options }).verify(input))).toBe('SIGNATURE_MISSING');
    expect(codeOf(() => createVerifier({ header: { name: 'x-key', value: 'v' } }).verify(input))).toBe('AUTH_HEADER_MISSING');
    expect(codeOf(() => createVerifier({ none: true }).verify(input))).toBeUndefined();
  });
});

describe('several signatures in one header (a sender rotating its secret)', () => {
  const ts = KNOWN.timestamp;
  const other = computeAudianSignature('whsec_other', ts, KNOWN.body);

  it.each([
    ['comma-separated, the match second', `sha256=${other},sha256=${KNOWN.signature}`],
    ['space-separated, the match first', `${KNOWN.signature} ${other}`],
    ['comma and space, mixed prefixes', `${other}, sha256=${KNOWN.signature}`],
  ])('%s: accepted when any one matches', (_name, header) => {
    expect(verify({ 'x-audian-timestamp': ts, 'x-audian-signature': header })).toBeUndefined();
  });

  it('none matching is a mismatch; a malformed candidate is malformed', () => {
    expect(verify({ 'x-audian-timestamp': ts, 'x-audian-signature': `${other},${'0'.repeat(64)}` })).toBe('SIGNATURE_MISMATCH');
    expect(verify({ 'x-audian-timestamp': ts, 'x-audian-signature': `${KNOWN.signature},nothex` })).toBe('SIGNATURE_MALFORMED');
  });

  it(`more than ${MAX_SIGNATURES} candidates are refused, even with a matching one among them`, () => {
    const many = [...Array.from({ length: MAX_SIGNATURES }, () => other), KNOWN.signature].join(',');
    expect(verify({ 'x-audian-timestamp': ts, 'x-audian-signature': many })).toBe('SIGNATURE_MALFORMED');
    const enough = [...Array.from({ length: MAX_SIGNATURES - 1 }, () => other), KNOWN.signature].join(',');
    expect(verify({ 'x-audian-timestamp': ts, 'x-audian-signature': enough })).toBeUndefined();
  });
});

describe('checks before the body is read', () => {
  const hmac = createVerifier({ hmac: options });
  const check = (verifier: ReturnType<typeof createVerifier>, headers: Record<string, string>, now = KNOWN_NOW) =>
    codeOf(() => verifier.checkHeaders(headers, now));

  it('HMAC: presence, shape and the timestamp window, without the body', () => {
    expect(check(hmac, {})).toBe('SIGNATURE_MISSING');
    expect(check(hmac, { 'x-audian-signature': KNOWN.signature })).toBe('TIMESTAMP_MISSING');
    expect(check(hmac, { 'x-audian-signature': KNOWN.signature, 'x-audian-timestamp': 'soon' })).toBe('TIMESTAMP_INVALID');
    expect(check(hmac, { 'x-audian-signature': KNOWN.signature, 'x-audian-timestamp': KNOWN.timestamp }, KNOWN_NOW + 301_000)).toBe('TIMESTAMP_OUT_OF_TOLERANCE');
    expect(check(hmac, { 'x-audian-signature': 'sha256=short', 'x-audian-timestamp': KNOWN.timestamp })).toBe('SIGNATURE_MALFORMED');
    // A well-formed but wrong signature passes this stage: only the body can tell.
    expect(check(hmac, { 'x-audian-signature': '0'.repeat(64), 'x-audian-timestamp': KNOWN.timestamp })).toBeUndefined();
  });

  it('static header: checked in full, it does not depend on the body', () => {
    const header = createVerifier({ header: { name: 'X-Api-Key', value: 'k' } });
    expect(check(header, {})).toBe('AUTH_HEADER_MISSING');
    expect(check(header, { 'x-api-key': 'no' })).toBe('AUTH_HEADER_MISMATCH');
    expect(check(header, { 'x-api-key': 'k' })).toBeUndefined();
  });
});
