import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { keysAt } from '../../src/config/issues.js';
import { createConfigSchema } from '../../src/config/schema.js';

/**
 * The configuration reference against the schema: every key of a section of
 * docs/configuration.md, and every option of a connector's page under
 * docs/connectors/, is in its table, and every default written there is the
 * schema's default. A written value is parsed by the schema itself, so `10s` is
 * compared as 10 000 ms; a key whose default is written without backticks (`none`,
 * "the event") is absent from the parsed config unless given, and one written
 * `(required)` cannot be left out.
 */
const page = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');
const SECTIONS = ['server', 'store', 'log', 'lifecycle', 'dispatch', 'admin'] as const;
const MINIMAL = `
sources: [{ name: main, verify: { none: true } }]
`;
/** The least options each connector type needs, which its page marks `(required)`. */
const REQUIRED: Record<string, Record<string, unknown>> = {
  file: { path: './data/events.jsonl' },
  http: { url: 'https://crm.example.com/calls/{subject}' },
  transcript: { dir: './data/transcripts' },
  kafka: { brokers: 'kafka-1:9092', topic: 'audian.{type}' },
  slack: { token: 'xoxb-test', channel: 'C0123456789' },
};
type Parsed = Record<string, Record<string, unknown>>;
const parse = (text: string) => parseConfig(text, {}, CONNECTORS) as unknown as Parsed;

type Written = { kind: 'value'; text: string } | { kind: 'required' } | { kind: 'absent' };

/** `| \`key\` | default | ... |` rows (or `| \`a\`, \`b\` | ... |`) of the first table under `heading`: key -> what it says of the default. */
function table(text: string, heading: string): Map<string, Written> {
  const start = text.indexOf(`${heading}\n`);
  expect(start, `a "${heading}" heading`).toBeGreaterThan(-1);
  const rest = text.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('#'));
  const rows = new Map<string, Written>();
  for (const line of rest.slice(0, end === -1 ? undefined : end)) {
    const cells = /^\| ((?:`[a-z_]+`(?:, )?)+) \| ([^|]+) \|/.exec(line);
    if (!cells) continue;
    const cell = cells[2]!.trim();
    const value = /^`([^`]+)`$/.exec(cell);
    const written: Written = value ? { kind: 'value', text: value[1]! } : cell === '(required)' ? { kind: 'required' } : { kind: 'absent' };
    for (const key of cells[1]!.match(/[a-z_]+/g)!) rows.set(key, written);
  }
  return rows;
}

/** A written value as YAML: lists, `{}` and booleans as they are, anything else quoted (so `0.0.0.0` and `{subject}` stay strings). */
const yamlValue = (written: string) => (written.startsWith('[') || written === '{}' || written === 'true' || written === 'false' ? written : JSON.stringify(written));

describe('docs/configuration.md, section tables', () => {
  const text = page('docs/configuration.md');
  const defaults = parse(MINIMAL);
  const schema = createConfigSchema(CONNECTORS);

  it.each(SECTIONS)('`%s`: the same keys as the schema, with its defaults', (section) => {
    const rows = table(text, `### \`${section}\``);
    expect([...rows.keys()].sort()).toEqual(keysAt(schema, [section]).sort());
    for (const [key, written] of rows) {
      expect(written.kind, `${section}.${key} is never required`).not.toBe('required');
      if (written.kind !== 'value') {
        expect(Object.keys(defaults[section]!), `the page says ${section}.${key} has no default`).not.toContain(key);
        continue;
      }
      const parsed = parse(`${MINIMAL}${section}: { ${key}: ${yamlValue(written.text)} }\n`);
      expect(parsed[section]![key], `the page's default for ${section}.${key} (${written.text})`).toEqual(defaults[section]![key]);
    }
  });

  it('a wrong default in a table would be caught', () => {
    expect(parse(`${MINIMAL}server: { shutdown_timeout: "10ms" }\n`).server!.shutdown_timeout).not.toEqual(defaults.server!.shutdown_timeout);
    expect(parse(`${MINIMAL}dispatch: { retry_schedule: ${yamlValue('[5s, 30s]')} }\n`).dispatch!.retry_schedule).not.toEqual(defaults.dispatch!.retry_schedule);
  });
});

describe('docs/connectors/*.md, option tables', () => {
  const withConnector = (type: string, options: Record<string, unknown>) =>
    `${MINIMAL}connectors:\n  c: ${JSON.stringify({ type, ...options })}\n`;
  const optionsOf = (parsed: Parsed) => (parsed.connectors as Record<string, Record<string, unknown>>).c!;

  it('every connector type has a page', () => {
    expect(Object.keys(REQUIRED).sort()).toEqual(Object.keys(CONNECTORS).sort());
  });

  it.each(Object.keys(REQUIRED))('`%s`: the same options as its schema, with its defaults and required keys', (type) => {
    const rows = table(page(`docs/connectors/${type}.md`), '| key | default | |');
    const definition = CONNECTORS[type]!;
    expect([...rows.keys()].sort()).toEqual(keysAt(definition.schema, []).filter((key) => key !== 'type').sort());
    const required = REQUIRED[type]!;
    expect([...rows].filter(([, written]) => written.kind === 'required').map(([key]) => key).sort()).toEqual(Object.keys(required).sort());
    const defaults = optionsOf(parse(withConnector(type, required)));
    for (const [key, written] of rows) {
      if (written.kind === 'required') {
        const { [key]: _left, ...without } = required;
        expect(() => parse(withConnector(type, without)), `connectors.c.${key} is required`).toThrow(ConfigError);
      } else if (written.kind === 'absent') {
        expect(Object.keys(defaults), `the page says ${type}.${key} has no default`).not.toContain(key);
      } else {
        const given = optionsOf(parse(withConnector(type, { ...required, [key]: YAML.parse(yamlValue(written.text)) })));
        expect(given[key], `the page's default for ${type}.${key} (${written.text})`).toEqual(defaults[key]);
      }
    }
  });
});

describe("README's configuration example", () => {
  it('is a valid configuration', () => {
    const readme = page('README.md');
    const section = readme.slice(readme.indexOf('## A configuration'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block, 'a yaml block under "## A configuration"').toBeDefined();
    const config = parseConfig(block!, { AUDIAN_WEBHOOK_SECRET: 'whsec_test', CRM_TOKEN: 'token', SLACK_BOT_TOKEN: 'xoxb-test' }, CONNECTORS);
    expect(Object.keys(config.connectors).length).toBeGreaterThan(0);
    expect(config.routes.length).toBeGreaterThan(0);
  });
});
