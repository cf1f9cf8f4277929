import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BridgeError, ConfigError, ERRORS, VerificationError, type ErrorCode } from '../../src/errors.js';

const PAGE = readFileSync(fileURLToPath(new URL('../../docs/http-api.md', import.meta.url)), 'utf8');

/** `| 401 | \`A\`, \`B\` | when |` rows of the error table in docs/http-api.md, as code -> status. */
function documentedErrorTable(): Map<string, number> {
  const section = PAGE.slice(PAGE.indexOf('| status | code | when |'));
  const table = section.slice(0, section.indexOf('\n\n'));
  const codes = new Map<string, number>();
  for (const row of table.split('\n').slice(2)) {
    const [, status, names] = row.split('|').map((cell) => cell.trim());
    for (const code of names!.match(/`[A-Z_]+`/g) ?? []) codes.set(code.slice(1, -1), Number(status));
  }
  return codes;
}

describe('the error table', () => {
  it('docs/http-api.md lists every code with the status ERRORS gives it, and no other code', () => {
    const documented = documentedErrorTable();
    const actual = new Map(Object.entries(ERRORS).map(([code, spec]) => [code, spec.status]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(actual));
  });

  it('errors take status and expose from the table, also through the subclasses', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const err = new BridgeError(code, 'm');
      expect([err.status, err.expose]).toEqual([ERRORS[code].status, ERRORS[code].expose]);
    }
    expect(new VerificationError('SIGNATURE_MISSING', 'm').status).toBe(401);
    expect(new ConfigError([{ path: 'x', code: 'CONFIG_BAD_VALUE', message: 'bad' }], 'CONFIG_NOT_FOUND')).toMatchObject({ code: 'CONFIG_NOT_FOUND', status: 500, expose: false });
  });

  it('only service faults are 5xx, and those that are not exposed never tell the client why', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      if (spec.status < 500) expect(spec.expose, code).toBe(true);
    }
    expect(ERRORS.INTERNAL_ERROR.expose).toBe(false);
  });
});
