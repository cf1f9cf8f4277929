import { describe, expect, it } from 'vitest';
import { formatSecrets, parseSecrets, unexpiredSecrets, withNewSecret } from '../../src/provider/secrets-file.js';
import { createVerifier } from '../../src/verify/index.js';
import { signAudianRequest } from '../../src/verify/sign.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

describe('secrets file format', () => {
  it('one secret per line, newest first, each with an optional expiry; blank and # lines ignored', () => {
    const parsed = parseSecrets('whsec_new\n\n# rotated 2026-03-01\nwhsec_old expires=2026-03-02T12:00:00Z\r\nwhsec_older expires=2026-03-01T13:00:00+01:00\n');
    expect(parsed.problems).toEqual([]);
    expect(parsed.entries).toEqual([
      { secret: 'whsec_new' },
      { secret: 'whsec_old', expiresAt: Date.parse('2026-03-02T12:00:00Z') },
      { secret: 'whsec_older', expiresAt: Date.parse('2026-03-01T12:00:00Z') },
    ]);
    expect(parseSecrets(formatSecrets(parsed.entries)).entries).toEqual(parsed.entries);
  });

  it('a line that is not SECRET [expires=ISO] is named by its number, never repeated', () => {
    const parsed = parseSecrets('good\nwhsec_two words\nwhsec_x expires=tomorrow\nwhsec_y expires=2026-13-45T00:00:00Z\n');
    expect(parsed.entries).toEqual([{ secret: 'good' }]);
    expect(parsed.problems.map((problem) => problem.line)).toEqual([2, 3, 4]);
    expect(JSON.stringify(parsed.problems)).not.toMatch(/whsec_/);
  });

  it('a new secret goes first; older ones stay until the overlap ends at the latest; expired ones go', () => {
    const entries = [{ secret: 'current' }, { secret: 'earlier', expiresAt: T0 + 1_000 }, { secret: 'gone', expiresAt: T0 - 1 }];
    expect(withNewSecret(entries, 'next', T0, 60_000)).toEqual([
      { secret: 'next' },
      { secret: 'current', expiresAt: T0 + 60_000 },
      { secret: 'earlier', expiresAt: T0 + 1_000 },
    ]);
    expect(unexpiredSecrets(withNewSecret(entries, 'next', T0, 60_000), T0 + 60_000)).toEqual(['next']);
  });
});

describe('verification with expiring secrets', () => {
  const body = '{"id":"evt_1","event":"call.completed","data":{}}';
  const input = (secret: string, now: number) => ({ rawBody: Buffer.from(body), headers: signAudianRequest(body, secret, { timestamp: Math.floor(now / 1000) }), now });

  it('accepts an expiring secret before its expiry and refuses it at and after, by the time handed in', () => {
    const verifier = createVerifier({ hmac: { secrets: ['placeholder'], toleranceSeconds: 300, expiring: () => [{ secret: 'old', expiresAt: T0 + 5_000 }, { secret: 'new' }] } });
    expect(() => verifier.verify(input('old', T0 + 4_999))).not.toThrow();
    expect(() => verifier.verify(input('old', T0 + 5_000))).toThrow(expect.objectContaining({ code: 'SIGNATURE_MISMATCH' }));
    expect(() => verifier.verify(input('new', T0 + 10_000_000))).not.toThrow();
    expect(() => verifier.verify(input('placeholder', T0))).not.toThrow();
    expect(() => verifier.verify(input('other', T0))).toThrow(expect.objectContaining({ code: 'SIGNATURE_MISMATCH' }));
  });

  it('reads the list on each request: a secret added later is accepted at once', () => {
    let file: { secret: string }[] = [];
    const verifier = createVerifier({ hmac: { secrets: ['placeholder'], toleranceSeconds: 300, expiring: () => file } });
    expect(() => verifier.verify(input('late', T0))).toThrow(expect.objectContaining({ code: 'SIGNATURE_MISMATCH' }));
    file = [{ secret: 'late' }];
    expect(() => verifier.verify(input('late', T0))).not.toThrow();
  });
});
