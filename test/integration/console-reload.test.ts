import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';

/**
 * Reloading the configuration from the console's configuration page, against
 * the bridge as a process on a real config file: the page shows when the
 * config in force was loaded and the latest reload's answer (applied, with
 * what changed; refused, with the code and the key), the POST is refused
 * without its form token or from another origin and then reloads nothing,
 * and every console reload is in the audit.
 */
const TOKEN = 'console-reload-token-0123456789';
/** Written in the file where a YAML syntax error quotes it: the page must not show it. */
const LITERAL = 'literal-in-the-broken-line-7f3a';

const formPost = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
const cookieOf = (response: Response) => (response.headers.get('set-cookie') ?? '').split(';')[0]!;
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
const loadedAtOf = (html: string) => /<time id="loaded-at" datetime="([^"]+)"/.exec(html)?.[1];
/** The "Last reload" section: from its heading to the configuration in force. */
const answerOf = (html: string) => html.slice(html.indexOf('id="last-reload"'), html.indexOf('id="in-force"'));

describe('reloading the configuration from the console', () => {
  let dir: string;
  let configPath: string;
  let bridge: ChildBridge;
  let admin: string;
  let session: { cookie: string; csrf: string };

  const admin0 = { host: '127.0.0.1', port: 0, token: TOKEN };
  const first = () => baseConfig(dir, { admin: admin0 });
  /** The first config and an http connector `crm` whose URL carries a password. */
  const withCrm = () =>
    baseConfig(dir, {
      admin: admin0,
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') }, crm: { type: 'http', url: 'http://crm-user:crm-password-9e1@127.0.0.1:9/calls/{subject}' } },
      routes: [{ name: 'all', to: ['events', 'crm'] }],
    });
  const write = (config: Record<string, unknown>) => writeFileSync(configPath, YAML.stringify(config));

  async function configPage(query = ''): Promise<string> {
    const response = await fetch(`${admin}/ui/config${query}`, { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    return response.text();
  }
  const reloadPost = (headers: Record<string, string> = {}) => formPost(`${admin}/ui/config/reload`, { _csrf: session.csrf }, { cookie: session.cookie, origin: 'null', ...headers });
  async function reloads(): Promise<Record<string, number>> {
    const text = await (await fetch(`${admin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const counts: Record<string, number> = {};
    for (const match of text.matchAll(/^audian_bridge_config_reloads_total\{outcome="(\w+)"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2]);
    return counts;
  }
  async function auditedReloads() {
    const response = await fetch(`${admin}/admin/audit`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const { entries } = (await response.json()) as { entries: { action: string; count: number; actor: { via: string; who: string; address?: string } }[] };
    return entries.filter((entry) => entry.action === 'reload');
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-console-reload-'));
    configPath = join(dir, 'config.yaml');
    write(first());
    bridge = await startChildBridge(configPath, { timeoutMs: 60_000 });
    admin = bridge.adminUrl!;
    const login = await formPost(`${admin}/ui/login`, { token: TOKEN, next: '/ui/' });
    expect(login.status).toBe(303);
    const cookie = cookieOf(login);
    const csrf = csrfOf(await (await fetch(`${admin}/ui/`, { headers: { cookie } })).text());
    session = { cookie, csrf: csrf! };
  });
  afterAll(async () => {
    if (bridge) await stopChildBridge(bridge);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows when the config was loaded and no reload yet; Reload asks on a page of its own, whose form posts with the token', async () => {
    const html = await configPage();
    expect(Date.parse(loadedAtOf(html)!)).toBeGreaterThan(Date.now() - 120_000);
    expect(answerOf(html)).toContain('No reload since this process started.');
    expect(html).toContain('<a href="/ui/config/reload">');
    const confirm = await fetch(`${admin}/ui/config/reload`, { headers: { cookie: session.cookie } });
    expect(confirm.status).toBe(200);
    const form = await confirm.text();
    expect(form).toContain('<form method="post" action="/ui/config/reload"');
    expect(form).toContain(`name="_csrf" value="${session.csrf}"`);
    expect(form).toMatch(/<button type="submit">Reload<\/button>/);
    // A GET changes nothing.
    expect(await reloads()).toEqual({ applied: 0, invalid: 0, refused: 0 });
  });

  it('refuses the POST without its form token or from another origin with 403 CSRF_REJECTED, and reloads nothing', async () => {
    const before = await configPage();
    write(withCrm());
    const url = `${admin}/ui/config/reload`;
    const cookie = session.cookie;
    const attempts = [
      formPost(url, {}, { cookie }),
      formPost(url, { _csrf: 'x'.repeat(43) }, { cookie }),
      formPost(url, { _csrf: session.csrf }, { cookie, 'sec-fetch-site': 'cross-site' }),
      formPost(url, { _csrf: session.csrf }, { cookie, origin: 'https://evil.example' }),
      fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${session.csrf}` }),
      fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${session.csrf}` }),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('CSRF_REJECTED');
    }
    expect(await reloads()).toEqual({ applied: 0, invalid: 0, refused: 0 });
    expect(await auditedReloads()).toEqual([]);
    const after = await configPage();
    expect(loadedAtOf(after)).toBe(loadedAtOf(before));
    expect(answerOf(after)).toContain('No reload since this process started.');
    expect(after).not.toContain('crm');
  });

  it('a changed file: the answer is ok, and the page shows the new load time, what changed and no secret', async () => {
    const before = loadedAtOf(await configPage())!;
    const response = await reloadPost();
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/ui/config?done=reloaded');
    const html = await configPage('?done=reloaded');
    expect(html).toContain('<p class="notice" role="status">The configuration was reloaded');
    expect(Date.parse(loadedAtOf(html)!)).toBeGreaterThan(Date.parse(before));
    const answer = answerOf(html);
    expect(answer).toMatch(/Applied at <time datetime="[^"]+">[^<]+<\/time>, from the console\./);
    expect(answer).toContain('<dt>Connectors added</dt><dd>crm</dd>');
    expect(answer).toContain('<dt>Connectors kept</dt><dd>events</dd>');
    expect(answer).toContain('<dt>Routes</dt><dd>all</dd>');
    expect(html).toContain('http://crm-user:[redacted]@127.0.0.1:9/calls/{subject}');
    expect(html).not.toContain('crm-password-9e1');
    expect(await reloads()).toEqual({ applied: 1, invalid: 0, refused: 0 });
  });

  it('a changed server.port is refused: the page shows the code and the key, and the config loaded before stays', async () => {
    const before = loadedAtOf(await configPage())!;
    const changed = withCrm();
    write({ ...changed, server: { host: '127.0.0.1', port: 1 } });
    const response = await reloadPost();
    expect(response.headers.get('location')).toBe('/ui/config?done=reload-refused');
    const html = await configPage('?done=reload-refused');
    expect(html).toContain('<p class="notice" role="status">The reload was refused');
    expect(loadedAtOf(html)).toBe(before);
    const answer = answerOf(html);
    expect(answer).toMatch(/Refused at <time datetime="[^"]+">[^<]+<\/time>, from the console: the running configuration stays\./);
    expect(answer).toContain('Code: <code>CONFIG_NOT_RELOADABLE</code>');
    expect(answer).toMatch(/<tr><td><code>server\.port<\/code><\/td><td><code>CONFIG_NOT_RELOADABLE<\/code><\/td><td>cannot change while running/);
    expect(await reloads()).toEqual({ applied: 1, invalid: 0, refused: 1 });
  });

  it('a file that is not YAML is refused with its issue, and the quoted line of the file is not shown', async () => {
    writeFileSync(configPath, `${YAML.stringify(withCrm())}extra:\n  note: ${LITERAL}: broken\n`);
    const response = await reloadPost();
    expect(response.headers.get('location')).toBe('/ui/config?done=reload-refused');
    const answer = answerOf(await configPage());
    expect(answer).toContain('Code: <code>CONFIG_INVALID</code>');
    expect(answer).toMatch(/<tr><td><code>\(root\)<\/code><\/td><td><code>CONFIG_SYNTAX<\/code><\/td><td>not valid YAML: [^<]*at line \d+, column \d+:<\/td><\/tr>/);
    // The reload's own answer quoted the line (the log has it); the page does not.
    expect(bridge.output()).toContain(LITERAL);
    expect(answer).not.toContain(LITERAL);
  });

  it('a reload through the admin API shows on the page as such', async () => {
    write(withCrm());
    const response = await fetch(`${admin}/admin/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    const answer = answerOf(await configPage());
    expect(answer).toContain('through the admin API (POST /admin/reload).');
    expect(answer).toContain('<dt>Connectors kept</dt><dd>events, crm</dd>');
  });

  it('the audit lists each console reload with the session and the address, and the API one with the bearer token', async () => {
    const entries = await auditedReloads();
    expect(entries.map((entry) => [entry.count, entry.actor.via, entry.actor.who])).toEqual([
      [1, 'api', 'bearer token'],
      [1, 'console', expect.stringMatching(/^session [\w-]{8}$/)],
      [1, 'console', expect.stringMatching(/^session [\w-]{8}$/)],
      [1, 'console', expect.stringMatching(/^session [\w-]{8}$/)],
    ]);
    expect(new Set(entries.filter((entry) => entry.actor.via === 'console').map((entry) => entry.actor.who)).size).toBe(1);
    for (const entry of entries) expect(entry.actor.address).toMatch(/127\.0\.0\.1/);
  });
});
