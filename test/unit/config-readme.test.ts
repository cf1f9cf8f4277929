import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

/**
 * README's configuration tables against the schema: every key of a section is
 * in its table and every default written there is the schema's default. The
 * README value is parsed by the schema itself, so `10s` is compared as 10 000 ms.
 */
const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const SECTIONS = ['server', 'store', 'log', 'lifecycle', 'dispatch'] as const;
const MINIMAL = `
sources: [{ name: main, verify: { none: true } }]
`;

/** `| \`key\` | \`default\` | ... |` rows of the table under `### \`section\``. */
function readmeTable(section: string): Map<string, string> {
  const start = README.indexOf(`### \`${section}\`\n`);
  expect(start, `README has a "### \`${section}\`" heading`).toBeGreaterThan(-1);
  const rest = README.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('#'));
  const rows = new Map<string, string>();
  for (const line of rest.slice(0, end === -1 ? undefined : end)) {
    const cells = /^\| `([a-z_]+)` \| `([^`]+)` \|/.exec(line);
    if (cells) rows.set(cells[1]!, cells[2]!);
  }
  return rows;
}

describe('README configuration tables', () => {
  const defaults = parseConfig(MINIMAL, {}) as unknown as Record<string, Record<string, unknown>>;

  it.each(SECTIONS)('`%s`: the same keys as the schema, with its defaults', (section) => {
    const table = readmeTable(section);
    expect([...table.keys()].sort()).toEqual(Object.keys(defaults[section]!).sort());
    for (const [key, written] of table) {
      const parsed = parseConfig(`${MINIMAL}${section}: { ${key}: "${written}" }\n`, {}) as unknown as Record<string, Record<string, unknown>>;
      expect(parsed[section]![key], `README's default for ${section}.${key} (${written})`).toEqual(defaults[section]![key]);
    }
  });

  it('a wrong default in a table would be caught', () => {
    const parsed = parseConfig(`${MINIMAL}server: { shutdown_timeout: "10ms" }\n`, {}) as unknown as Record<string, Record<string, unknown>>;
    expect(parsed.server!.shutdown_timeout).not.toEqual(defaults.server!.shutdown_timeout);
  });
});
