import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { postWebhook } from '../helpers/bridge.js';
import { accessibilityViolations, findChromium, fitsWidth, launchChromium, screenshot, watchPage } from '../helpers/browser.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * The console in a real Chromium, against the bridge as a real process on a
 * real config file: signing in and out, every page, replay, pause and
 * resume against a local HTTP target, hostile payloads sent as signed
 * webhooks, CSRF from another origin, and axe on every page in light and
 * dark mode.
 */
const chromiumFound = findChromium();
if (!chromiumFound.path) skipOrFail('console browser tests', chromiumFound.reason ?? 'no Chromium');
const note = chromiumFound.path ? '' : ` — SKIPPED: ${chromiumFound.reason}`;

const ADMIN_TOKEN = 'browser-admin-token-7f3a9c2e51';
const CRM_KEY = 'crm-key-from-env-4d8e1b';
const CRM_BEARER = 'crm-bearer-literal-9a7c3f';
const HMAC_SECRET = 'whsec-browser-literal-2b6d';

const HOSTILE_ID = '<script>alert("id")</script>';
const HOSTILE_NAME = '<img src=x onerror=alert("name")>';
const HOSTILE_TO = 'javascript:alert("to")';
const HOSTILE_ATTRS = '<a href="javascript:alert(1)" hx-get="/ui/logout" hx-trigger="load" onclick="alert(2)" onmouseover="alert(3)">click</a>';
const HOSTILE_BIG = `${'A'.repeat(1_000_000)}<script>alert("big")</script>`;

interface Setup {
  readonly dir: string;
  readonly bridge: ChildBridge;
  readonly admin: string;
  readonly post: (body: unknown) => Promise<void>;
  readonly api: <T>(path: string) => Promise<T>;
  readonly stop: () => Promise<void>;
}

/** The bridge as a process on a config file: an http connector `crm` to `target`, a file connector `events`. */
async function startBridgeProcess(target: string, admin: Record<string, unknown> = {}): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-console-'));
  const config = {
    server: { host: '127.0.0.1', port: 0, body_limit: '3mb' },
    store: { path: join(dir, 'bridge.db') },
    lifecycle: { missed_call_grace: '200ms' },
    dispatch: { retry_schedule: ['300ms'], max_attempts: 3, poll_interval: '100ms' },
    admin: { host: '127.0.0.1', port: 0, token: '${ADMIN_TOKEN}', ...admin },
    sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [HMAC_SECRET] } } }],
    connectors: {
      crm: { type: 'http', url: `${target}/calls/{subject}`, headers: { 'X-Api-Key': '${CRM_KEY}' }, auth: { bearer: CRM_BEARER } },
      events: { type: 'file', path: join(dir, 'events.jsonl') },
    },
    routes: [
      { name: 'crm-calls', match: { type: 'call.*' }, to: 'crm' },
      { name: 'all', to: 'events' },
    ],
  };
  const path = join(dir, 'config.yaml');
  writeFileSync(path, YAML.stringify(config));
  const bridge = await startChildBridge(path, { env: { ADMIN_TOKEN, CRM_KEY }, timeoutMs: 60_000 });
  const adminUrl = bridge.adminUrl!;
  return {
    dir,
    bridge,
    admin: adminUrl,
    async post(body) {
      const result = await postWebhook(`${bridge.url}/webhooks/audian`, body, { secret: HMAC_SECRET });
      if (result.status !== 200) throw new Error(`webhook refused: ${result.status} ${JSON.stringify(result.body)}`);
    },
    async api<T>(apiPath: string) {
      const response = await fetch(`${adminUrl}${apiPath}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return (await response.json()) as T;
    },
    async stop() {
      await stopChildBridge(bridge);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface DeliveryRow {
  readonly id: number;
  readonly status: string;
  readonly connector: string;
  readonly callId: string | null;
}

/** Signs in through the login form, as a person would. */
async function signIn(page: Page, admin: string, token = ADMIN_TOKEN): Promise<number> {
  await page.goto(`${admin}/ui/login`);
  await page.getByLabel('Admin token').fill(token);
  const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  return response?.status() ?? 0;
}

const T = Date.now();

describe.skipIf(!chromiumFound.path)(`the console in Chromium${note}`, () => {
  let target: RecordingServer;
  let setup: Setup;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: ReturnType<typeof watchPage>;
  let flakyFailures = 0;
  let deadFixed = false;

  const crmRequests = (callId: string) => target.requests.filter((request) => decodeURIComponent(request.url) === `/calls/${callId}`);
  const deliveriesOf = async (callId: string) =>
    (await setup.api<{ deliveries: DeliveryRow[] }>(`/admin/deliveries?call=${encodeURIComponent(callId)}&connector=crm`)).deliveries;

  beforeAll(async () => {
    target = await startRecordingServer((request) => {
      if (request.url.includes('flaky-call')) return { status: flakyFailures++ < 2 ? 503 : 200 };
      if (request.url.includes('dead-call')) return deadFixed ? { status: 200 } : { status: 400, body: '{"error":"unknown contact"}' };
      if (request.url.includes('rejected-call')) return { status: 422, body: '{"error":"no contact with this number"}' };
      return { status: 200 };
    });
    setup = await startBridgeProcess(target.url);
    browser = await launchChromium(chromiumFound.path as string);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page, setup.admin);

    await setup.post(audianV2Calls.initiated('call-ok-1', { direction: 'inbound', from: '+14155550100', to: '+4930123456', fromName: 'Ada Lovelace' }, T - 60_000));
    await setup.post(audianV2Calls.answered('call-ok-1', T - 55_000));
    await setup.post(audianV2Calls.ended('call-ok-1', 'completed', T - 30_000));
    // Late: it happened before the answer, and arrives after the end.
    await setup.post({ id: 'evt_call-ok-1_ringing', timestamp: new Date(T - 58_000).toISOString(), event: 'call.ringing', data: { call_id: 'call-ok-1' } });
    await setup.post(audianV2Calls.initiated('flaky-call', { direction: 'outbound', from: '+4930999999', to: '+14155550123' }, T - 20_000));
    await setup.post(audianV2Calls.initiated('dead-call', { direction: 'inbound', from: '+33123456789', to: '+4930123456' }, T - 10_000));
    await waitFor(async () => (await deliveriesOf('flaky-call'))[0]?.status === 'delivered', { timeoutMs: 30_000, what: 'the flaky delivery to succeed' });
    await waitFor(async () => (await deliveriesOf('dead-call'))[0]?.status === 'dead', { timeoutMs: 30_000, what: 'the dead delivery' });
  });

  afterAll(async () => {
    await browser?.close();
    await setup?.stop();
    await target?.close();
  });

  it('refuses a wrong token, then signs in with the right one', async () => {
    expect(await signIn(page, setup.admin, 'wrong-token-0000000000')).toBe(401);
    await expect.poll(() => page.locator('.problem').textContent()).toContain('UNAUTHORIZED');
    expect(await signIn(page, setup.admin)).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    expect(await page.locator('h1').textContent()).toBe('Overview');
    watch.expectClean('sign-in');
  });

  it('the overview says ready, and per connector the dead ones and the last error, one click from the dead letters', async () => {
    await page.goto(`${setup.admin}/ui/`);
    expect(await page.locator('.state').textContent()).toContain('Ready');
    const crm = page.locator('tr', { has: page.locator('th', { hasText: /^crm$/ }) });
    expect(await crm.locator('td').nth(3).textContent()).toBe('1');
    expect(await crm.locator('td').nth(4).textContent()).toContain('400');
    await page.getByRole('link', { name: /Dead letters/ }).click();
    expect(new URL(page.url()).search).toBe('?status=dead');
    const rows = page.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('dead-call');
    watch.expectClean('overview');
  });

  it('filters deliveries by several statuses, connector, event type and call at once, each in the URL', async () => {
    await page.goto(`${setup.admin}/ui/deliveries`);
    await page.getByLabel('dead').check();
    await page.getByLabel('delivered').check();
    await page.getByLabel('Connector').fill('crm');
    await page.getByLabel('Event type').fill('call.initiated');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/status=dead/);
    const query = new URL(page.url()).searchParams;
    expect(query.getAll('status')).toEqual(['dead', 'delivered']);
    expect([query.get('connector'), query.get('type')]).toEqual(['crm', 'call.initiated']);
    const calls = await page.locator('tbody tr td:nth-child(4)').allTextContents();
    expect(calls.sort()).toEqual(['call-ok-1', 'dead-call', 'flaky-call']);
    expect(await page.getByLabel('dead').isChecked()).toBe(true);
    await page.getByLabel('Call id').fill('dead-call');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/call=dead-call/);
    expect(await page.locator('tbody tr td:nth-child(4)').allTextContents()).toEqual(['dead-call']);
    watch.expectClean('deliveries');
  });

  it('a delivery shows every attempt: failed twice, then delivered', async () => {
    const [flaky] = await deliveriesOf('flaky-call');
    await page.goto(`${setup.admin}/ui/deliveries/${flaky!.id}`);
    expect(await page.locator('h1').textContent()).toBe(`Delivery #${flaky!.id}`);
    const outcomes = await page.locator('#attempts + .scroll tbody tr td:nth-child(2)').allTextContents();
    expect(outcomes).toEqual(['retry', 'retry', 'delivered']);
    const errors = await page.locator('#attempts + .scroll tbody tr td:nth-child(4)').allTextContents();
    expect(errors[0]).toContain('503');
    expect(await page.getByRole('button', { name: 'Send again' }).count()).toBe(1);
    watch.expectClean('delivery');
  });

  it('an event shows the canonical CloudEvent as text, its deliveries, and the way to its call', async () => {
    await page.goto(`${setup.admin}/ui/events/evt_call-ok-1_initiated`);
    const json = JSON.parse((await page.locator('pre.json').first().textContent())!) as { id: string; specversion: string; data: { from_name: string } };
    expect([json.id, json.specversion, json.data.from_name]).toEqual(['evt_call-ok-1_initiated', '1.0', 'Ada Lovelace']);
    expect(await page.getByRole('table', { name: 'Its deliveries' }).locator('tbody tr').count()).toBe(2);
    await page.getByRole('link', { name: 'call-ok-1' }).first().click();
    await page.waitForURL(/\/ui\/calls\/call-ok-1$/);
    watch.expectClean('event');
  });

  it('finds a call by its number as digits and shows its events in the order they happened, its state and its deliveries', async () => {
    await page.goto(`${setup.admin}/ui/calls`);
    await page.getByLabel('Call id or phone number').fill('+1 415-555-0100');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(/q=/);
    expect(await page.locator('tbody tr td:first-child').allTextContents()).toEqual(['call-ok-1']);
    await page.getByRole('link', { name: 'call-ok-1' }).click();
    await page.waitForURL(/\/ui\/calls\/call-ok-1$/);
    const types = await page.locator('#timeline + .scroll tbody tr td:nth-child(3)').allTextContents();
    expect(types.slice(0, 4)).toEqual(['call.initiated', 'call.ringing', 'call.answered', 'call.completed']);
    const arrived = await page.locator('#timeline + .scroll tbody tr td:nth-child(2)').allTextContents();
    expect(arrived[1]! >= arrived[3]!).toBe(true);
    expect(await page.locator('.facts').first().textContent()).toContain('Ada Lovelace');
    expect(await page.locator('#deliveries + .scroll tbody tr').count()).toBeGreaterThanOrEqual(6);
    watch.expectClean('call');
  });

  it('the configuration page shows the config with no secret anywhere in its HTML', async () => {
    const response = await page.goto(`${setup.admin}/ui/config`);
    const html = await response!.text();
    for (const secret of [ADMIN_TOKEN, CRM_KEY, CRM_BEARER, HMAC_SECRET]) expect(html, secret).not.toContain(secret);
    expect(await page.locator('pre.json').textContent()).toContain('[redacted]');
    expect(await page.locator('pre.json').textContent()).toContain('crm-calls');
    watch.expectClean('config');
  });

  it('replays a dead delivery once the target is fixed, and shows it delivered', async () => {
    deadFixed = true;
    const [dead] = await deliveriesOf('dead-call');
    await page.goto(`${setup.admin}/ui/deliveries?status=dead`);
    await page.getByRole('link', { name: `#${dead!.id}` }).click();
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL(/done=replayed/);
    expect(await page.locator('.notice').textContent()).toContain('queued again');
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('.facts .status').first().textContent();
        },
        { timeout: 20_000, interval: 300 },
      )
      .toBe('delivered');
    expect(crmRequests('dead-call').length).toBeGreaterThanOrEqual(2);
    watch.expectClean('replay');
  });

  it('pauses a connector after a confirmation: deliveries wait; resumed, they flow', async () => {
    await page.goto(`${setup.admin}/ui/connectors`);
    await page.getByRole('link', { name: 'Pause crm' }).click();
    expect(await page.locator('h1').textContent()).toBe('Pause crm?');
    await page.getByRole('button', { name: 'Pause crm' }).click();
    await page.waitForURL(/done=paused/);
    // The row has two badges: its state (the operator's pause) and its health (the dispatcher's); the state is the first.
    const crmRow = page.locator('tr', { has: page.locator('th', { hasText: /^crm$/ }) });
    expect(await crmRow.locator('.status').allTextContents()).toEqual(['paused', 'up']);

    await setup.post(audianV2Calls.initiated('paused-call', { direction: 'inbound', from: '+14155550999', to: '+4930123456' }, Date.now()));
    // Several poll intervals (100 ms) and a retry step (300 ms) pass with nothing sent.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(crmRequests('paused-call')).toEqual([]);
    await page.goto(`${setup.admin}/ui/deliveries?call=paused-call&connector=crm`);
    expect(await page.locator('tbody .status').allTextContents()).toEqual(['pending']);

    await page.goto(`${setup.admin}/ui/connectors`);
    await page.getByRole('link', { name: 'Resume crm' }).click();
    await page.getByRole('button', { name: 'Resume crm' }).click();
    await page.waitForURL(/done=resumed/);
    await waitFor(() => crmRequests('paused-call').length === 1, { timeoutMs: 15_000, what: 'the paused delivery to be sent after resume' });
    await expect
      .poll(
        async () => {
          await page.goto(`${setup.admin}/ui/deliveries?call=paused-call&connector=crm`);
          return page.locator('tbody .status').allTextContents();
        },
        { timeout: 15_000, interval: 300 },
      )
      .toEqual(['delivered']);
    watch.expectClean('pause and resume');
  });

  it('shows hostile payloads from signed webhooks as text: no dialog, no request elsewhere, nothing runs', async () => {
    await setup.post({
      ...audianV2Calls.initiated(HOSTILE_ID, { direction: 'inbound', from: '+1 650 555 0199', to: HOSTILE_TO, fromName: HOSTILE_NAME, tags: { note: HOSTILE_ATTRS } }, Date.now()),
      id: 'evt_hostile_initiated',
    });
    await setup.post({
      event_type: 'transcript',
      timestamp_utc: Math.floor(Date.now() / 1000),
      payload: { call: { id: HOSTILE_ID, from: '+16505550199', to: HOSTILE_TO, source: 'salprebox:TEST', direction: 'inbound' }, transcript: `${HOSTILE_ATTRS} ${HOSTILE_BIG}`, timestamp_utc: '1' },
      is_test: false,
    });

    await page.goto(`${setup.admin}/ui/calls?q=${encodeURIComponent('+1 650-555-0199')}`);
    expect(await page.locator('tbody tr td:nth-child(6)').allTextContents()).toEqual([HOSTILE_NAME]);
    expect(await page.locator('tbody tr td:nth-child(5)').allTextContents()).toEqual([HOSTILE_TO]);
    await page.getByRole('link', { name: HOSTILE_ID }).click();
    await page.waitForURL(/\/ui\/calls\//);
    expect(await page.locator('h1').textContent()).toBe(`Call ${HOSTILE_ID}`);
    const facts = await page.locator('.facts').first().innerText();
    for (const text of [HOSTILE_NAME, HOSTILE_TO]) expect(facts).toContain(text);

    await page.getByRole('link', { name: 'transcript.segment' }).first().click();
    await page.waitForURL(/\/ui\/events\//);
    const canonical = (await page.locator('pre.json').first().textContent())!;
    expect(canonical.length).toBeGreaterThan(1_000_000);
    const event = JSON.parse(canonical) as { data: Record<string, unknown> };
    expect(JSON.stringify(event.data)).toContain(JSON.stringify(`${HOSTILE_ATTRS} ${HOSTILE_BIG}`).slice(1, 200));

    for (const path of [`/ui/calls/${encodeURIComponent(HOSTILE_ID)}`, `/ui/events/evt_hostile_initiated`, `/ui/deliveries?call=${encodeURIComponent(HOSTILE_ID)}`]) {
      await page.goto(`${setup.admin}${path}`);
      await page.hover('main');
      expect(await page.locator('main script, main img, main svg, main [onclick], main [onmouseover], main [hx-get], main a[href^="javascript:"]').count(), path).toBe(0);
      expect(await page.locator('main').innerText(), path).toContain(HOSTILE_ID);
    }
    watch.expectClean('hostile payloads');
  });

  it('refuses a POST without the form token, and a form from another origin, with 403 CSRF_REJECTED; nothing changes', async () => {
    const pause = `${setup.admin}/ui/connectors/crm/pause`;
    const withoutToken = await context.request.post(pause, { form: {}, headers: { 'sec-fetch-site': 'same-origin' }, maxRedirects: 0 });
    expect(withoutToken.status()).toBe(403);
    expect(await withoutToken.text()).toContain('CSRF_REJECTED');

    // Another origin's page, in the same browser (the cookie is the operator's), posting to the console.
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const attacker = await startAttackerPage(pause, csrf);
    try {
      const other = await context.newPage();
      await other.goto(attacker.url);
      const [response] = await Promise.all([other.waitForNavigation(), other.getByRole('button', { name: 'Win a prize' }).click()]);
      expect(response!.status()).toBe(403);
      expect(await other.content()).toContain('CSRF_REJECTED');
      await other.close();
    } finally {
      await attacker.close();
    }
    const { connectors } = await setup.api<{ connectors: { name: string; paused: boolean }[] }>('/admin/connectors');
    expect(connectors.find((connector) => connector.name === 'crm')?.paused).toBe(false);
  });

  it('works with the keyboard alone: sign in and reach a page from the navigation', async () => {
    const keyboard = await browser.newContext();
    try {
      const tab = await keyboard.newPage();
      await tab.goto(`${setup.admin}/ui/login`);
      // The token field takes the focus by itself (autofocus): nothing but keys from here on.
      await expect.poll(() => tab.evaluate('document.activeElement?.id')).toBe('token');
      await tab.keyboard.type(ADMIN_TOKEN);
      await Promise.all([tab.waitForNavigation(), tab.keyboard.press('Enter')]);
      expect(new URL(tab.url()).pathname).toBe('/ui/');
      await tab.keyboard.press('Tab');
      expect(await tab.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
      let reached = false;
      for (let presses = 0; presses < 12 && !reached; presses++) {
        await tab.keyboard.press('Tab');
        reached = (await tab.evaluate('document.activeElement?.textContent')) === 'Calls';
      }
      expect(reached).toBe(true);
      await Promise.all([tab.waitForNavigation(), tab.keyboard.press('Enter')]);
      expect(new URL(tab.url()).pathname).toBe('/ui/calls');
    } finally {
      await keyboard.close();
    }
  });

  it('every page: no axe violation (WCAG 2.1 A and AA) in light and dark mode, fits 360 px, and a screenshot', async () => {
    const [flaky] = await deliveriesOf('flaky-call');
    // A dead letter to show: the overview's and the deliveries page's screenshots are in docs/console.md.
    await setup.post(audianV2Calls.initiated('rejected-call', { direction: 'inbound', from: '+14155550142', to: '+4930123456' }, Date.now()));
    await waitFor(async () => (await deliveriesOf('rejected-call'))[0]?.status === 'dead', { timeoutMs: 30_000, what: 'a dead delivery' });
    const pages: [string, string][] = [
      ['overview', '/ui/'],
      ['deliveries', '/ui/deliveries?status=dead&status=delivered&connector=crm'],
      ['delivery', `/ui/deliveries/${flaky!.id}`],
      ['event', '/ui/events/evt_call-ok-1_initiated'],
      ['calls', `/ui/calls?q=${encodeURIComponent('+1 415-555-0100')}`],
      ['call', '/ui/calls/call-ok-1'],
      ['connectors', '/ui/connectors'],
      ['confirm', '/ui/connectors/crm/pause'],
      ['config', '/ui/config'],
      ['not-found', '/ui/no-such-page'],
    ];
    const narrow = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await context.storageState() });
    const small = await narrow.newPage();
    const loggedOut = await browser.newContext();
    const login = await loggedOut.newPage();
    try {
      const problems: string[] = [];
      for (const [name, path] of [...pages, ['login', '/ui/login'] as [string, string]]) {
        const tab = name === 'login' ? login : page;
        for (const scheme of ['light', 'dark'] as const) {
          await tab.emulateMedia({ colorScheme: scheme });
          await tab.goto(`${setup.admin}${path}`);
          problems.push(...(await accessibilityViolations(tab)).map((violation) => `${name} (${scheme}): ${violation}`));
          await screenshot(tab, `${name}-${scheme}`);
        }
        const narrowTab = name === 'login' ? login : small;
        await narrowTab.setViewportSize({ width: 360, height: 740 });
        await narrowTab.goto(`${setup.admin}${path}`);
        if (!(await fitsWidth(narrowTab))) problems.push(`${name}: wider than 360 px`);
        if (name === 'overview' || name === 'call') await screenshot(narrowTab, `${name}-360`);
      }
      expect(problems).toEqual([]);
    } finally {
      await narrow.close();
      await loggedOut.close();
    }
    watch.expectClean('every page');
  });
});

/** A page on another origin with a form that posts to the console (what a CSRF attack looks like). */
async function startAttackerPage(action: string, csrf: string): Promise<{ url: string; close(): Promise<void> }> {
  const html = `<!doctype html><html lang="en"><title>prize</title><form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrf}"><button>Win a prize</button></form></html>`;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.skipIf(!chromiumFound.path)(`the console in Chromium: sessions and sign-in limits${note}`, () => {
  let target: RecordingServer;
  let setup: Setup;
  let browser: Browser;

  beforeAll(async () => {
    target = await startRecordingServer();
    setup = await startBridgeProcess(target.url, { session_ttl: '2s' });
    browser = await launchChromium(chromiumFound.path as string);
  });
  afterAll(async () => {
    await browser?.close();
    await setup?.stop();
    await target?.close();
  });

  it('signing out ends the session', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    expect(await signIn(page, setup.admin)).toBe(200);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    expect(await page.locator('.notice').textContent()).toContain('signed out');
    await page.goto(`${setup.admin}/ui/`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await context.close();
  });

  it('an expired session goes back to the login page, which returns to the page asked for', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    expect(await signIn(page, setup.admin)).toBe(200);
    // session_ttl is 2 s: wait past it without a request.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await page.goto(`${setup.admin}/ui/calls`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    expect(await page.locator('.notice').textContent()).toContain('session ended');
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    expect(new URL(page.url()).pathname).toBe('/ui/calls');
    await context.close();
  });

  it('wrong tokens from one address are rate-limited: 429 with a stable code, the right token refused as well', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) statuses.push(await signIn(page, setup.admin, `wrong-token-${attempt}-000000`));
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    expect(await page.locator('.problem').textContent()).toContain('SIGN_IN_RATE_LIMITED');
    expect(await signIn(page, setup.admin)).toBe(429);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await context.close();
  });
});
