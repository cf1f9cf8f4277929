import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, startBridge, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';

/**
 * The console over plain HTTP (the browser tests in test/browser drive it in
 * Chromium): sign-in, the session cookie, the headers on every answer, the
 * CSRF and origin checks of every POST, and `admin.ui` / `admin.trust_proxy`.
 */
const TOKEN = 'console-test-token-0123456789';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function consoleConfig(admin: Record<string, unknown> = {}) {
  return (dir: string) =>
    baseConfig(dir, {
      admin: { host: '127.0.0.1', port: 0, token: TOKEN, ...admin },
      connectors: { events: { type: 'file', path: `${dir}/events.jsonl` } },
    });
}

/** A same-origin form post, as the console's own pages make it in a browser. */
function formPost(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

const cookieOf = (response: Response) => (response.headers.get('set-cookie') ?? '').split(';')[0]!;
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

describe('the console over HTTP', () => {
  let bridge: TestBridge;
  let admin: string;
  beforeAll(async () => {
    bridge = await startBridge(consoleConfig());
    admin = bridge.adminUrl!;
  });
  afterAll(() => bridge?.stop());

  async function signIn(): Promise<{ cookie: string; csrf: string }> {
    const response = await formPost(`${admin}/ui/login`, { token: TOKEN, next: '/ui/' });
    expect(response.status).toBe(303);
    const cookie = cookieOf(response);
    const page = await fetch(`${admin}/ui/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    return { cookie, csrf: csrfOf(await page.text())! };
  }

  it('answers the login page with 200 and the security headers; a page without a session goes to it', async () => {
    const login = await fetch(`${admin}/ui/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toBe(CSP);
    expect(login.headers.get('x-content-type-options')).toBe('nosniff');
    expect(login.headers.get('referrer-policy')).toBe('no-referrer');
    expect(login.headers.get('cache-control')).toBe('no-store');
    const html = await login.text();
    expect(html).toContain('<form method="post" action="/ui/login"');
    expect(html).not.toMatch(/<script|style=|\son[a-z]+=/i);
    const page = await fetch(`${admin}/ui/deliveries?status=dead`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fdeliveries%3Fstatus%3Ddead');
    expect(page.headers.get('content-security-policy')).toBe(CSP);
  });

  it('serves its stylesheet under a content hash, cached for a year, with nosniff', async () => {
    const html = await (await fetch(`${admin}/ui/login`)).text();
    const href = /<link rel="stylesheet" href="(\/ui\/assets\/console\.[0-9a-f]{16}\.css)">/.exec(html)?.[1];
    expect(href).toBeDefined();
    const css = await fetch(`${admin}${href}`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(css.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(css.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await css.text()).toContain('prefers-color-scheme: dark');
  });

  it('a right token starts a session: an opaque HttpOnly, SameSite=Strict cookie on /ui, not Secure over http', async () => {
    const response = await formPost(`${admin}/ui/login`, { token: TOKEN, next: '/ui/calls' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/ui/calls');
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^audian_console=[A-Za-z0-9_-]{43}; path=\/ui; samesite=strict; httponly$/);
    expect(cookie).not.toContain(TOKEN);
  });

  it('never sends an operator elsewhere after signing in', async () => {
    for (const next of ['//evil.example/ui/', 'https://evil.example/ui/', '/\\evil.example/ui/', 'javascript:alert(1)', '/admin/deliveries']) {
      const response = await formPost(`${admin}/ui/login`, { token: TOKEN, next });
      expect(response.headers.get('location'), next).toBe('/ui/');
    }
  });

  it('a wrong token is refused with the login page again', async () => {
    const response = await formPost(`${admin}/ui/login`, { token: 'not-the-token-at-all' }, { 'x-forwarded-for': '203.0.113.9' });
    expect(response.status).toBe(401);
    const html = await response.text();
    expect(html).toContain('UNAUTHORIZED');
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a POST without the form token, or from another origin, with 403 CSRF_REJECTED, and changes nothing', async () => {
    const { cookie, csrf } = await signIn();
    const pause = `${admin}/ui/connectors/events/pause`;
    const attempts = [
      formPost(pause, {}, { cookie }),
      formPost(pause, { _csrf: 'x'.repeat(43) }, { cookie }),
      formPost(pause, { _csrf: csrf }, { cookie, 'sec-fetch-site': 'cross-site' }),
      formPost(pause, { _csrf: csrf }, { cookie, 'sec-fetch-site': 'same-site' }),
      fetch(pause, { method: 'POST', redirect: 'manual', headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` }),
      formPost(pause, { _csrf: csrf }, { cookie, origin: 'https://evil.example' }),
      fetch(pause, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: `_csrf=${csrf}` }),
    ];
    for (const response of await Promise.all(attempts)) {
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('CSRF_REJECTED');
    }
    expect(await bridge.store.paused()).toEqual([]);
    // The console's own form post: same-origin, Origin: null (Referrer-Policy: no-referrer), its token.
    const own = await formPost(pause, { _csrf: csrf }, { cookie, origin: 'null' });
    expect(own.status).toBe(303);
    expect((await bridge.store.paused()).map((row) => row.connector)).toEqual(['events']);
    const resumed = await fetch(`${admin}/ui/connectors/events/resume`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, origin: admin, 'content-type': 'application/x-www-form-urlencoded' },
      body: `_csrf=${csrf}`,
    });
    expect(resumed.status).toBe(303);
    expect(await bridge.store.paused()).toEqual([]);
  });

  it('the connectors page shows a connector that is down, since when and why', async () => {
    const { cookie } = await signIn();
    const since = Date.parse('2026-03-01T12:00:00Z');
    const down = { connector: 'events', state: 'down' as const, since, reason: 'request to http://crm.example failed: connect ECONNREFUSED', until: since + 1_000, flaps: 0 };
    const previous = (await bridge.store.connectorHealth()).find((row) => row.connector === 'events');
    expect(await bridge.store.recordHealth({ ...down, version: (previous?.version ?? 0) + 1 }, since)).toBe(true);
    const html = await (await fetch(`${admin}/ui/connectors`, { headers: { cookie } })).text();
    expect(html).toContain('<span class="status status-down">down</span>');
    expect(html).toContain('connect ECONNREFUSED');
    expect(html).toContain('2026-03-01');
  });

  it('signing out ends the session: the cookie no longer opens a page', async () => {
    const { cookie, csrf } = await signIn();
    const out = await formPost(`${admin}/ui/logout`, { _csrf: csrf }, { cookie });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/ui/login?notice=signed-out');
    const after = await fetch(`${admin}/ui/`, { headers: { cookie }, redirect: 'manual' });
    expect(after.status).toBe(303);
  });

  it('the JSON API answers the same reads with the bearer token, and the console answers none of them to it', async () => {
    await bridge.post('/webhooks/audian', audianV2Calls.initiated('api-call', { from: '+14155550100', to: '+4930123456', direction: 'inbound' }, Date.now()));
    const auth = { authorization: `Bearer ${TOKEN}` };
    const found = (await (await fetch(`${admin}/admin/calls?phone=${encodeURIComponent('+1 415-555-0100')}`, { headers: auth })).json()) as { calls: { callId: string }[] };
    expect(found.calls.map((call: { callId: string }) => call.callId)).toEqual(['api-call']);
    const call = (await (await fetch(`${admin}/admin/calls/api-call`, { headers: auth })).json()) as { events: { event: { type: string } }[] };
    expect(call.events.map((stored: { event: { type: string } }) => stored.event.type)).toEqual(['call.initiated']);
    const connectors = (await (await fetch(`${admin}/admin/connectors`, { headers: auth })).json()) as { connectors: { name: string }[] };
    expect(connectors.connectors.map((connector: { name: string }) => connector.name)).toEqual(['events']);
    const config = (await (await fetch(`${admin}/admin/config`, { headers: auth })).json()) as { config: { admin: { token: string } } };
    expect(config.config.admin.token).toBe('[redacted]');
    expect(JSON.stringify(config)).not.toContain(TOKEN);
    expect((await fetch(`${admin}/ui/`, { headers: auth, redirect: 'manual' })).status).toBe(303);
  });
});

describe('the console: session_ttl, rate limits, admin.ui and trust_proxy', () => {
  it('an idle session past session_ttl goes back to the login page, which says why', async () => {
    const bridge = await startBridge(consoleConfig({ session_ttl: '300ms' }));
    try {
      const response = await formPost(`${bridge.adminUrl}/ui/login`, { token: TOKEN });
      const cookie = cookieOf(response);
      expect((await fetch(`${bridge.adminUrl}/ui/`, { headers: { cookie } })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const expired = await fetch(`${bridge.adminUrl}/ui/calls`, { headers: { cookie }, redirect: 'manual' });
      expect(expired.status).toBe(303);
      expect(expired.headers.get('location')).toBe('/ui/login?notice=expired&next=%2Fui%2Fcalls');
      expect(await (await fetch(`${bridge.adminUrl}${expired.headers.get('location')}`)).text()).toContain('Your session ended');
    } finally {
      await bridge.stop();
    }
  });

  it('after 5 wrong tokens from one address, sign-ins from it are 429 SIGN_IN_RATE_LIMITED, the right token too', async () => {
    const bridge = await startBridge(consoleConfig());
    try {
      const login = `${bridge.adminUrl}/ui/login`;
      for (let attempt = 1; attempt <= 4; attempt++) expect((await formPost(login, { token: `wrong-token-${attempt}` })).status).toBe(401);
      const fifth = await formPost(login, { token: 'wrong-token-5' });
      expect(fifth.status).toBe(429);
      expect(await fifth.text()).toContain('SIGN_IN_RATE_LIMITED');
      expect(Number(fifth.headers.get('retry-after'))).toBeGreaterThan(0);
      const right = await formPost(login, { token: TOKEN });
      expect(right.status).toBe(429);
      expect(right.headers.get('set-cookie')).toBeNull();
    } finally {
      await bridge.stop();
    }
  });

  it('admin.ui: false leaves the API on and the console off', async () => {
    const bridge = await startBridge(consoleConfig({ ui: false }));
    try {
      expect((await fetch(`${bridge.adminUrl}/ui/login`)).status).toBe(401);
      expect((await fetch(`${bridge.adminUrl}/admin/connectors`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await bridge.stop();
    }
  });

  it('admin.trust_proxy: the cookie is Secure behind a TLS proxy, and failures count per forwarded address', async () => {
    const bridge = await startBridge(consoleConfig({ trust_proxy: true }));
    try {
      const login = `${bridge.adminUrl}/ui/login`;
      const viaProxy = (address: string) => ({ 'x-forwarded-proto': 'https', 'x-forwarded-for': `198.51.100.1, ${address}`, origin: `https://${new URL(login).host}` });
      const response = await fetch(login, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...viaProxy('192.0.2.1') },
        body: `token=${TOKEN}`,
      });
      expect(response.status).toBe(303);
      expect(response.headers.get('set-cookie')).toMatch(/; secure; httponly$/);
      for (let attempt = 0; attempt < 5; attempt++) await formPost(login, { token: 'wrong-token-here' }, viaProxy('192.0.2.2'));
      expect((await formPost(login, { token: TOKEN }, viaProxy('192.0.2.2'))).status).toBe(429);
      expect((await formPost(login, { token: TOKEN }, viaProxy('192.0.2.3'))).status).toBe(303);
    } finally {
      await bridge.stop();
    }
  });
});
