import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { keysAt } from '../../src/config/issues.js';
import { createConfigSchema } from '../../src/config/schema.js';

/**
 * README's configuration tables against the schema: every key of a section is
 * in its table and every default written there is the schema's default. The
 * README value is parsed by the schema itself, so `10s` is compared as 10 000 ms;
 * a key whose default is written `none` is absent from the parsed config unless given.
 */
const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const SECTIONS = ['server', 'store', 'log', 'lifecycle', 'dispatch', 'admin'] as const;
const MINIMAL = `
sources: [{ name: main, verify: { none: true } }]
`;
type Parsed = Record<string, Record<string, unknown>>;
const parse = (text: string) => parseConfig(text, {}, CONNECTORS) as unknown as Parsed;

/** `| \`key\` | \`default\` | ... |` rows (or `| \`a\`, \`b\` | none | ... |`) of the table under `### \`section\``: key -> default, undefined for none. */
function readmeTable(section: string): Map<string, string | undefined> {
  const start = README.indexOf(`### \`${section}\`\n`);
  expect(start, `README has a "### \`${section}\`" heading`).toBeGreaterThan(-1);
  const rest = README.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('#'));
  const rows = new Map<string, string | undefined>();
  for (const line of rest.slice(0, end === -1 ? undefined : end)) {
    const cells = /^\| ((?:`[a-z_]+`(?:, )?)+) \| (?:`([^`]+)`|none) \|/.exec(line);
    if (!cells) continue;
    for (const key of cells[1]!.match(/[a-z_]+/g)!) rows.set(key, cells[2]);
  }
  return rows;
}

/** A README value as YAML: lists as they are, anything else quoted (so `0.0.0.0` stays a string). */
const yamlValue = (written: string) => (written.startsWith('[') ? written : `"${written}"`);

describe('README configuration tables', () => {
  const defaults = parse(MINIMAL);
  const schema = createConfigSchema(CONNECTORS);

  it.each(SECTIONS)('`%s`: the same keys as the schema, with its defaults', (section) => {
    const table = readmeTable(section);
    expect([...table.keys()].sort()).toEqual(keysAt(schema, [section]).sort());
    for (const [key, written] of table) {
      if (written === undefined) {
        expect(Object.keys(defaults[section]!), `README says ${section}.${key} has no default`).not.toContain(key);
        continue;
      }
      const parsed = parse(`${MINIMAL}${section}: { ${key}: ${yamlValue(written)} }\n`);
      expect(parsed[section]![key], `README's default for ${section}.${key} (${written})`).toEqual(defaults[section]![key]);
    }
  });

  it('a wrong default in a table would be caught', () => {
    expect(parse(`${MINIMAL}server: { shutdown_timeout: "10ms" }\n`).server!.shutdown_timeout).not.toEqual(defaults.server!.shutdown_timeout);
    expect(parse(`${MINIMAL}dispatch: { retry_schedule: ${yamlValue('[5s, 30s]')} }\n`).dispatch!.retry_schedule).not.toEqual(defaults.dispatch!.retry_schedule);
  });
});
