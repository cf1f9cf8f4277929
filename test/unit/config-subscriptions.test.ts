import { describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { isLoopbackHost } from '../../src/config/subscriptions.js';
import { ConfigError } from '../../src/errors.js';

const TOKEN = 'tok_do_not_print_7f3a9c';

const base = `
sources:
  - name: main
    verify: { hmac: { secrets: ["placeholder"] } }
  - name: open
    verify: { none: true }
`;

function parse(extra: string) {
  return parseConfig(`${base}${extra}`, { AUDIAN_API_TOKEN: TOKEN }, CONNECTORS);
}

function issues(extra: string) {
  try {
    parse(extra);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('the config was accepted');
}

const codes = (extra: string) => issues(extra).map((issue) => `${issue.path} ${issue.code}`);

describe('provider and subscriptions config', () => {
  it('defaults: api webhooks, events ["*"], enabled, no subscriptions without the section', () => {
    expect(parse('').subscriptions).toEqual([]);
    const config = parse(`
provider: { url: "https://api.audian.com:8443/", token: "\${AUDIAN_API_TOKEN}" }
subscriptions:
  - { name: calls, source: main, url: "https://bridge.example.com/webhooks/main", secret_file: ./data/secrets/calls }
`);
    expect(config.provider).toEqual({ url: 'https://api.audian.com:8443', token: TOKEN, timeout: 10_000, retries: 3 });
    expect(config.subscriptions[0]).toEqual({
      name: 'calls', source: 'main', url: 'https://bridge.example.com/webhooks/main', api: 'webhooks', events: ['*'], secret_file: './data/secrets/calls', enabled: true,
    });
  });

  it('accounts API: hooks and account_id, no events or secret_file', () => {
    const config = parse(`
provider: { url: "https://api.audian.com:8443", token: t, account_id: acc_1 }
subscriptions:
  - { name: legacy, source: main, url: "https://b.example.com/webhooks/main", api: accounts, hooks: [channel_create, channel_destroy], expect_within: 1h }
`);
    expect(config.subscriptions[0]).toMatchObject({ api: 'accounts', hooks: ['channel_create', 'channel_destroy'], expect_within: 3_600_000 });
    expect(codes(`
provider: { url: "https://api.audian.com:8443", token: t }
subscriptions:
  - { name: legacy, source: main, url: "https://b.example.com/x", api: accounts, events: ["*"], secret_file: ./s }
`).sort()).toEqual([
      'provider.account_id CONFIG_MISSING_KEY',
      'subscriptions[0].events CONFIG_BAD_VALUE',
      'subscriptions[0].hooks CONFIG_MISSING_KEY',
      'subscriptions[0].secret_file CONFIG_BAD_VALUE',
    ]);
  });

  it('unknown keys, unknown sources, duplicates, a missing provider, a non-HMAC source: each named by its path', () => {
    expect(codes(`
subscriptions:
  - { name: a, source: nowhere, url: "https://b.example.com/x", secret_file: ./s, colour: red }
  - { name: a, source: open, url: "https://b.example.com/y", secret_file: ./t }
  - { name: b, source: main, url: "https://b.example.com/z" }
`).sort()).toEqual([
      'provider CONFIG_MISSING_KEY',
      'subscriptions[0].colour CONFIG_UNKNOWN_KEY',
      'subscriptions[1].name CONFIG_DUPLICATE',
      'subscriptions[1].source CONFIG_BAD_VALUE',
      'subscriptions[2].secret_file CONFIG_MISSING_KEY',
    ].concat(['subscriptions[0].source CONFIG_UNKNOWN_REFERENCE']).sort());
    expect(codes(`provider: { url: "https://a.example.com", token: t, tokn: x }\n`)).toEqual(['provider.tokn CONFIG_UNKNOWN_KEY']);
  });

  it('https everywhere except loopback', () => {
    expect(codes(`
provider: { url: "http://api.audian.com:8443", token: t }
subscriptions:
  - { name: a, source: main, url: "http://bridge.example.com/webhooks/main", secret_file: ./s }
`).sort()).toEqual(['provider.url CONFIG_BAD_VALUE', 'subscriptions[0].url CONFIG_BAD_VALUE']);
    expect(() => parse(`
provider: { url: "http://127.0.0.1:9999", token: t }
subscriptions:
  - { name: a, source: main, url: "http://[::1]:8080/webhooks/main", secret_file: ./s }
`)).not.toThrow();
    expect(['127.0.0.1', '127.8.9.1', '::1', '[::1]', 'localhost'].every(isLoopbackHost)).toBe(true);
    expect(['10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example.com', '::2'].some(isLoopbackHost)).toBe(false);
  });

  it('a bad token is refused without repeating it', () => {
    const found = issues(`provider: { url: "https://a.example.com", token: ["${TOKEN}"] }\n`);
    expect(found.map((issue) => `${issue.path} ${issue.code}`)).toEqual(['provider.token CONFIG_BAD_VALUE']);
    expect(JSON.stringify(found)).not.toContain(TOKEN);
  });
});
