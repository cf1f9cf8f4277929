import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { keysAt } from '../../src/config/issues.js';
import { parseConfig } from '../../src/config/load.js';
import { createConfigSchema } from '../../src/config/schema.js';
import { ERRORS } from '../../src/errors.js';

/** docs/provider-setup.md's key tables and error table against the schema and src/errors.ts. */
const DOC = readFileSync(fileURLToPath(new URL('../../docs/provider-setup.md', import.meta.url)), 'utf8');

/** `| \`key\` | \`default\` or none | ... |` rows under a heading: key -> default (undefined for none). */
function table(heading: string): Map<string, string | undefined> {
  const start = DOC.indexOf(`${heading}\n`);
  expect(start, `the page has "${heading}"`).toBeGreaterThan(-1);
  const rest = DOC.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('#'));
  const rows = new Map<string, string | undefined>();
  for (const line of rest.slice(0, end)) {
    const cells = /^\| `([a-z_]+)` \| (?:`([^`]+)`|none) \|/.exec(line);
    if (cells) rows.set(cells[1]!, cells[2]);
  }
  return rows;
}

const BASE = `
sources: [{ name: main, verify: { hmac: { secrets: [s] } } }]
provider: { url: "https://api.example.com", token: t, account_id: a }
`;
const SUBSCRIPTION = '{ name: calls, source: main, url: "https://b.example.com/x", secret_file: ./s';
const parse = (text: string) => parseConfig(text, {}, CONNECTORS);

describe('docs/provider-setup.md', () => {
  const schema = createConfigSchema(CONNECTORS);

  it('`provider`: every key, with the schema\'s defaults', () => {
    const rows = table('### `provider`');
    expect([...rows.keys()].sort()).toEqual(keysAt(schema, ['provider']).sort());
    const defaults = parse(BASE).provider as unknown as Record<string, unknown>;
    for (const [key, written] of rows) {
      if (written === undefined) continue;
      const given = parse(BASE.replace('account_id: a', `account_id: a, ${key}: "${written}"`)).provider as unknown as Record<string, unknown>;
      expect(given[key], `provider.${key}`).toEqual(defaults[key]);
    }
  });

  it('`subscriptions[]`: every key, with the schema\'s defaults', () => {
    const rows = table('### `subscriptions[]`');
    expect([...rows.keys()].sort()).toEqual(keysAt(schema, ['subscriptions', 0]).sort());
    const defaults = parse(`${BASE}subscriptions: [${SUBSCRIPTION} }]\n`).subscriptions[0] as unknown as Record<string, unknown>;
    for (const [key, written] of rows) {
      if (written === undefined) continue;
      const value = written.startsWith('[') ? written : `"${written}"`;
      const given = parse(`${BASE}subscriptions: [${SUBSCRIPTION}, ${key}: ${value} }]\n`).subscriptions[0] as unknown as Record<string, unknown>;
      expect(given[key], `subscriptions[].${key}`).toEqual(defaults[key]);
    }
  });

  it('names every error code of the provider\'s side', () => {
    const codes = Object.keys(ERRORS).filter((code) => /^(PROVIDER|SUBSCRIPTION|SECRET_FILE)_/.test(code));
    expect(codes.length).toBeGreaterThan(5);
    for (const code of codes) expect(DOC, code).toContain(`| \`${code}\` |`);
  });
});
