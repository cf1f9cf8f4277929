import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { REDACTED, redactConfig, redactUrl } from '../../src/config/redact.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-redact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secretFile = join(dir, 'slack-token');
writeFileSync(secretFile, 'xoxb-from-a-file\n');

const ENV = { HMAC: 'hmac-from-env-0001', ADMIN: 'admin-token-from-env-0001', CRM_PATH: 'tenant-42', DB_PASSWORD: 'db-pass-from-env' };
const YAML_TEXT = `
store: { path: ${join(dir, 'bridge.db')} }
admin: { token: "literal-admin-token-0001" }
provider: { url: "https://api.audian.com:8443", token: "literal-provider-0013" }
sources:
  - { name: main, verify: { hmac: { secrets: ["\${HMAC}", "literal-hmac-0002"] } } }
  - { name: voice, verify: { header: { name: X-Api-Key, value: "literal-header-0003" } } }
connectors:
  crm:
    type: http
    url: "https://crm-user:literal-url-pass-0004@crm.example.com/api/{subject}?api_key=literal-query-0005&tenant=acme"
    headers: { X-Api-Token: "literal-header-0006", X-Trace: "visible-trace" }
  crm2:
    type: http
    url: "https://crm.example.com/\${CRM_PATH}/calls"
    auth: { basic: { username: crm-user, password: "literal-basic-0007" } }
  crm3: { type: http, url: "https://crm.example.com/calls", auth: { bearer: "literal-bearer-0008" } }
  slack: { type: slack, token: "\${file:${secretFile}}", channel: "#calls" }
  slack2: { type: slack, token: "\${SLACK_TOKEN:-literal-default-0012}", channel: "#alerts" }
  kafka: { type: kafka, brokers: ["127.0.0.1:9092"], topic: calls, sasl: { mechanism: plain, username: bridge, password: "literal-sasl-0009" } }
routes: [{ name: all, to: [crm, crm2, crm3, slack, slack2, kafka] }]
`;

describe('redactConfig', () => {
  const config = parseConfig(YAML_TEXT, ENV, CONNECTORS);
  const shown = JSON.stringify(redactConfig(config, CONNECTORS));

  it('shows no secret: neither from the environment or a file, nor marked secret by a schema, nor in a URL or a credential header', () => {
    for (const secret of [
      ...Object.values(ENV),
      'xoxb-from-a-file',
      'literal-admin-token-0001',
      'literal-hmac-0002',
      'literal-header-0003',
      'literal-url-pass-0004',
      'literal-query-0005',
      'literal-header-0006',
      'literal-basic-0007',
      'literal-bearer-0008',
      'literal-sasl-0009',
      'literal-default-0012',
      'literal-provider-0013',
    ]) {
      expect(shown, secret).not.toContain(secret);
    }
  });

  it('keeps what is not secret, so the page still says what runs', () => {
    const redacted = redactConfig(config, CONNECTORS) as { connectors: Record<string, Record<string, unknown>>; sources: { name: string }[]; admin: Record<string, unknown> };
    expect(redacted.connectors.crm!.url).toBe(`https://crm-user:${REDACTED}@crm.example.com/api/{subject}?api_key=${REDACTED}&tenant=acme`);
    expect(redacted.connectors.crm!.headers).toEqual({ 'X-Api-Token': REDACTED, 'X-Trace': 'visible-trace' });
    expect(redacted.connectors.crm2!.auth).toEqual({ basic: { username: 'crm-user', password: REDACTED } });
    expect(redacted.connectors.crm3!.auth).toEqual({ bearer: REDACTED });
    expect(redacted.connectors.crm3!.url).toBe('https://crm.example.com/calls');
    expect(redacted.connectors.crm2!.url).toBe(REDACTED);
    expect(redacted.connectors.slack!.token).toBe(REDACTED);
    expect(redacted.connectors.slack!.channel).toBe('#calls');
    expect(redacted.sources.map((source) => source.name)).toEqual(['main', 'voice']);
    expect(redacted.admin.token).toBe(REDACTED);
    expect(redacted.admin.port).toBe(8081);
  });

  it('a PostgreSQL URL loses its password, whether written in the file or not', () => {
    const postgres = parseConfig(`store: { url: "postgres://bridge:literal-pg-0010@db:5432/bridge?sslpassword=literal-pg-0011" }\nsources: [{ name: main, verify: { none: true } }]\n`, {}, CONNECTORS);
    const text = JSON.stringify(redactConfig(postgres, CONNECTORS));
    expect(text).not.toContain('literal-pg-0010');
    expect(text).not.toContain('literal-pg-0011');
    expect(text).toContain('postgres://bridge:[redacted]@db:5432/bridge');
  });

  it('redactUrl leaves a URL without credentials as it is', () => {
    expect(redactUrl('https://crm.example.com/api/{subject}?tenant=acme')).toBe('https://crm.example.com/api/{subject}?tenant=acme');
    expect(redactUrl('https://sk_live_abc@api.example.com/')).toBe(`https://${REDACTED}@api.example.com/`);
  });
});
