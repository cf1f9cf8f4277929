import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { defaultConfigYaml } from '../../src/config/default.js';
import { configJsonSchema, configJsonSchemaText } from '../../src/config/json-schema.js';
import { parseConfig } from '../../src/config/load.js';

/**
 * config.schema.json, the JSON Schema editors check config files with: the
 * committed file is what `npm run schema` writes from the code, the shipped
 * example is valid against it, and it agrees with the bridge's own validation
 * on what it accepts and refuses.
 */
const file = (path: string) => readFileSync(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');
const validate = new Ajv({ allErrors: true }).compile(JSON.parse(file('config.schema.json')) as object);
const valid = (text: string) => {
  const ok = validate(YAML.parse(text));
  return ok ? true : validate.errors!.map((error: ErrorObject) => `${error.instancePath} ${error.message}`).join('; ');
};
const MINIMAL = 'sources: [{ name: main, verify: { none: true } }]\n';

describe('config.schema.json', () => {
  it('is what `npm run schema` writes from the code', () => {
    expect(file('config.schema.json')).toBe(configJsonSchemaText(CONNECTORS));
  });

  it('config.example.yaml names it for editors and is valid against it', () => {
    const example = file('config.example.yaml');
    expect(example.split('\n')[0]).toBe('# yaml-language-server: $schema=./config.schema.json');
    expect(valid(example)).toBe(true);
  });

  it('the embedded default is valid against it, with and without a secret', () => {
    expect(valid(defaultConfigYaml({}))).toBe(true);
    expect(valid(defaultConfigYaml({ AUDIAN_WEBHOOK_SECRET: 'whsec_test', PORT: '9000' }))).toBe(true);
  });

  it('every configuration in the documentation that the bridge accepts is valid against it', () => {
    const pages = ['README.md', 'docs/configuration.md', 'docs/stores.md', 'docs/connectors/slack.md', 'docs/connectors/transcript.md'];
    const env = new Proxy({}, { get: () => 'value-from-the-environment' }) as Record<string, string>;
    let accepted = 0;
    for (const page of pages) {
      for (const [, block] of file(page).matchAll(/```yaml\n([\s\S]*?)```/g)) {
        const text = block!.includes('sources:') ? block! : `${MINIMAL}${block}`;
        try {
          parseConfig(text, env, CONNECTORS);
        } catch {
          continue;
        }
        accepted++;
        expect(valid(text), `${page}:\n${text}`).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThanOrEqual(4);
  });

  it('takes a ${VAR} wherever a variable can fill a value', () => {
    const config = `${MINIMAL}server: { port: "\${PORT:-8080}", metrics: "\${METRICS}", shutdown_timeout: "\${GRACE:-10s}", body_limit: "\${LIMIT}" }
log: { level: "\${LOG_LEVEL:-info}" }
connectors:
  k: { type: kafka, brokers: "\${KAFKA_BROKERS}", topic: t, acks: "\${ACKS}", retries: "\${RETRIES}", tls: "\${KAFKA_TLS}" }
  s: { type: slack, token: "\${file:/run/secrets/slack}", channel: C1, time_zone: "\${TZ}" }
routes: [{ name: "\${ROUTE}", to: k }]
`;
    expect(valid(config)).toBe(true);
  });

  it('refuses what the bridge refuses: an unknown key, a duration without a unit, a misspelt connector option, a bad choice', () => {
    const refused = [
      `${MINIMAL}server: { bodylimit: 1mb }\n`,
      'sources: [{ name: main, verify: { hmac: { secrets: [s], tolerance: 300 } } }]\n',
      `${MINIMAL}connectors: { crm: { type: http, urll: "https://crm.example.com" } }\n`,
      `${MINIMAL}connectors: { crm: { type: http } }\n`,
      `${MINIMAL}log: { level: loud }\n`,
      `${MINIMAL}store: { synchronous: sometimes }\n`,
      'sources: [{ name: main, verify: { none: "yes" } }]\n',
    ];
    for (const text of refused) {
      expect(() => parseConfig(text, {}, CONNECTORS), text).toThrow();
      expect(valid(text), text).not.toBe(true);
    }
  });

  it('lists every connector type with its own options', () => {
    const definitions = configJsonSchema(CONNECTORS).definitions as Record<string, { properties: Record<string, unknown> }>;
    for (const type of Object.keys(CONNECTORS)) {
      expect(Object.keys(definitions[`connector-${type}`]!.properties)).toContain('dispatch');
    }
  });
});
