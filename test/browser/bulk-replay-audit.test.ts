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
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';
import { waitFor } from '../helpers/wait.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * Bulk replay and the audit in a real Chromium, against the bridge as a
 * process and a local HTTP target: the count comes first and exactly that
 * set is replayed while new dead letters arrive; the audit page lists what
 * the console, the admin API and the CLI did; the bulk replay's POST is
 * refused without its token or from another origin; axe on the new pages.
 */
const chromiumFound = findChromium();
if (!chromiumFound.path) skipOrFail('bulk replay and audit browser tests', chromiumFound.reason ?? 'no Chromium');
const note = chromiumFound.path ? '' : ` — SKIPPED: ${chromiumFound.reason}`;

const ADMIN_TOKEN = 'browser-audit-token-5c1e8a90d7';
const HMAC_SECRET = 'whsec-browser-audit-3f7b';

interface Delivery {
  readonly id: number;
  readonly status: string;
  readonly callId: string | null;
}

describe.skipIf(!chromiumFound.path)(`bulk replay and the audit in Chromium${note}`, () => {
  let dir: string;
  let configPath: string;
  let bridge: ChildBridge;
  let target: RecordingServer;
  let fixed = false;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: ReturnType<typeof watchPage>;
  /** Where the count page was, with its filter: axe and the CSRF test come back to it. */
  let countUrl = '';

  const admin = () => bridge.adminUrl as string;
  async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${admin()}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as T;
  }
  const crmOf = async (callId: string) => (await api<{ deliveries: Delivery[] }>('GET', `/admin/deliveries?connector=crm&call=${callId}`)).deliveries[0];
  const sentTo = (callId: string) => target.requests.filter((request) => request.url === `/calls/${callId}`).length;
  async function deadLetter(callId: string): Promise<Delivery> {
    const result = await postWebhook(`${bridge.url}/webhooks/audian`, audianV2Calls.initiated(callId, { direction: 'inbound', from: '+14155550100', to: '+4930123456' }, Date.now()), { secret: HMAC_SECRET });
    if (result.status !== 200) throw new Error(`webhook refused: ${result.status}`);
    return waitFor(async () => {
      const found = await crmOf(callId);
      return found?.status === 'dead' ? found : undefined;
    }, { timeoutMs: 30_000, what: `${callId} dead` });
  }

  beforeAll(async () => {
    // The CRM refuses every call (400: dead at once) until it is fixed.
    target = await startRecordingServer(() => (fixed ? { status: 200 } : { status: 400, body: '{"error":"unknown contact"}' }));
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-console-audit-'));
    const config = {
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'bridge.db') },
      dispatch: { retry_schedule: ['300ms'], max_attempts: 3, poll_interval: '100ms' },
      admin: { host: '127.0.0.1', port: 0, token: '${ADMIN_TOKEN}' },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [HMAC_SECRET] } } }],
      connectors: {
        crm: { type: 'http', url: `${target.url}/calls/{subject}` },
        events: { type: 'file', path: join(dir, 'events.jsonl') },
      },
      routes: [
        { name: 'crm-calls', match: { type: 'call.*' }, to: 'crm' },
        { name: 'all', to: 'events' },
      ],
    };
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, YAML.stringify(config));
    bridge = await startChildBridge(configPath, { env: { ADMIN_TOKEN }, timeoutMs: 60_000 });
    browser = await launchChromium(chromiumFound.path as string);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page, admin());
  });

  afterAll(async () => {
    await browser?.close();
    if (bridge) await stopChildBridge(bridge);
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('signs in after a wrong token', async () => {
    await page.goto(`${admin()}/ui/login`);
    await page.getByLabel('Admin token').fill('wrong-token-0000000000');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    expect(new URL(page.url()).pathname).toBe('/ui/');
  });

  it('bulk replay shows the count first, then replays exactly that set while new dead letters arrive', async () => {
    const counted = [await deadLetter('bulk-1'), await deadLetter('bulk-2'), await deadLetter('bulk-3')];
    await page.goto(`${admin()}/ui/deliveries?status=dead&connector=crm`);
    await page.getByRole('link', { name: /Replay the deliveries these filters match/ }).click();
    await page.waitForURL(/\/ui\/deliveries\/replay\?/);
    countUrl = page.url();
    expect(await page.locator('#matched').innerText()).toMatch(/^3 deliveries match this filter now/);
    expect(await page.locator('tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/dead\s+3\s+queued again/)]);
    const button = page.getByRole('button', { name: 'Replay 3 deliveries' });
    expect(await button.count()).toBe(1);

    // While the operator reads the count: two new dead letters arrive; the CRM is fixed, and one of the three is replayed on its own.
    const late = [await deadLetter('bulk-late-1'), await deadLetter('bulk-late-2')];
    fixed = true;
    await api('POST', '/admin/deliveries/replay', { ids: [counted[0]!.id] });
    await waitFor(async () => (await crmOf('bulk-1'))?.status === 'delivered', { timeoutMs: 20_000, what: 'bulk-1 delivered on its own' });

    await Promise.all([page.waitForURL(/\/ui\/deliveries\/replay\/result$/), button.click()]);
    expect(await page.locator('#replayed').innerText()).toBe('2 deliveries were queued again; 1 skipped.');
    expect(await page.locator('tbody tr').allInnerTexts()).toEqual([expect.stringMatching(new RegExp(`#${counted[0]!.id}\\s+its status changed\\s+delivered`))]);
    for (const call of ['bulk-2', 'bulk-3']) await waitFor(async () => (await crmOf(call))?.status === 'delivered', { timeoutMs: 20_000, what: `${call} delivered` });
    // Several poll intervals in which the late ones could have gone out, had they been replayed.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const [index, delivery] of late.entries()) {
      expect((await crmOf(`bulk-late-${index + 1}`))?.status).toBe('dead');
      expect(sentTo(`bulk-late-${index + 1}`), `bulk-late-${index + 1}`).toBe(1);
      expect(delivery.status).toBe('dead');
    }
    for (const call of ['bulk-2', 'bulk-3']) expect(sentTo(call), call).toBe(2);
    watch.expectClean('bulk replay');
  });

  it('refuses the bulk replay POST without its token, or from another origin, with 403; nothing changes', async () => {
    await page.goto(countUrl);
    expect(await page.locator('#matched').innerText()).toMatch(/^2 deliveries match/);
    const form = page.locator('form[action="/ui/deliveries/replay"]');
    const fields: [string, string][] = [];
    for (const input of await form.locator('input[type="hidden"]').all()) fields.push([(await input.getAttribute('name')) ?? '', await input.inputValue()]);
    const withoutToken = Object.fromEntries(fields.filter(([name]) => name !== '_csrf'));
    const refused = await context.request.post(`${admin()}/ui/deliveries/replay`, { form: withoutToken, headers: { 'sec-fetch-site': 'same-origin' }, maxRedirects: 0 });
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain('CSRF_REJECTED');

    // Another origin's page in the operator's browser, with every field right, the token included.
    const attacker = await startAttackerPage(`${admin()}/ui/deliveries/replay`, fields);
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
    await new Promise((resolve) => setTimeout(resolve, 800));
    for (const call of ['bulk-late-1', 'bulk-late-2']) {
      expect((await crmOf(call))?.status, call).toBe('dead');
      expect(sentTo(call), call).toBe(1);
    }
  });

  it('the audit page lists what the console, the admin API and the CLI did', async () => {
    // Pause and resume from the console, a pause and resume through the API, a replay by the CLI on the store itself.
    for (const action of ['pause', 'resume'] as const) {
      await page.goto(`${admin()}/ui/connectors/crm/${action}`);
      await Promise.all([page.waitForURL(new RegExp(`done=${action === 'pause' ? 'paused' : 'resumed'}`)), page.getByRole('button', { name: `${action === 'pause' ? 'Pause' : 'Resume'} crm` }).click()]);
    }
    await api('POST', '/admin/connectors/events/pause');
    await api('POST', '/admin/connectors/events/resume');
    const late = await crmOf('bulk-late-1');
    const cli = await runCli(['replay', String(late!.id), '--config', configPath], { env: { ADMIN_TOKEN } });
    expect(cli.code, cli.stderr).toBe(0);

    await page.goto(`${admin()}/ui/`);
    await Promise.all([page.waitForURL(/\/ui\/audit$/), page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Audit' }).click()]);
    const rows: string[][] = [];
    for (const row of await page.locator('tbody tr').all()) rows.push(await row.locator('td').allInnerTexts());
    const shown = rows.map(([, what, count, via, who, , on]) => [what, count, via, via === 'console' ? who!.replace(/[\w-]{8}$/, 'ID') : via === 'cli' ? 'user@host' : who, on]);
    expect(shown).toEqual([
      ['replay', '1', 'cli', 'user@host', String(late!.id)],
      ['resumed a connector', '1', 'api', 'bearer token', 'events'],
      ['paused a connector', '1', 'api', 'bearer token', 'events'],
      ['resumed a connector', '1', 'console', 'session ID', 'crm'],
      ['paused a connector', '1', 'console', 'session ID', 'crm'],
      ['bulk replay', '2', 'console', 'session ID', expect.stringContaining('"statuses":["dead"]')],
      ['replay', '1', 'api', 'bearer token', String((await crmOf('bulk-1'))!.id)],
      ['signed in', '1', 'console', 'session ID', ''],
      ['sign-in refused', '0', 'console', 'not signed in', ''],
    ]);
    expect(rows[0]![4]).toMatch(/^.+@.+$/);
    for (const row of rows) if (row[3] !== 'cli') expect(row[5]).toMatch(/127\.0\.0\.1/);
    // The console's session is the same one throughout.
    expect(new Set(rows.filter((row) => row[3] === 'console' && row[4] !== 'not signed in').map((row) => row[4])).size).toBe(1);
    watch.expectClean('audit');
  });

  it('the new pages: no axe violation (WCAG 2.1 A and AA) in light and dark mode, fit 360 px, and a screenshot', async () => {
    const pages: [string, string][] = [
      ['bulk-replay', countUrl.replace(admin(), '')],
      ['bulk-replay-result', '/ui/deliveries/replay/result'],
      ['audit', '/ui/audit'],
    ];
    const narrow = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await context.storageState() });
    const small = await narrow.newPage();
    try {
      const problems: string[] = [];
      for (const [name, path] of pages) {
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await page.goto(`${admin()}${path}`);
          problems.push(...(await accessibilityViolations(page)).map((violation) => `${name} (${scheme}): ${violation}`));
          await screenshot(page, `${name}-${scheme}`);
        }
        await small.goto(`${admin()}${path}`);
        if (!(await fitsWidth(small))) problems.push(`${name}: wider than 360 px`);
      }
      expect(problems).toEqual([]);
    } finally {
      await narrow.close();
    }
    watch.expectClean('new pages');
  });
});

/** A page on another origin with the bulk replay's form, every field filled in as the console's own (what a CSRF attack looks like). */
async function startAttackerPage(action: string, fields: readonly [string, string][]): Promise<{ url: string; close(): Promise<void> }> {
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const inputs = fields.map(([name, value]) => `<input type="hidden" name="${escape(name)}" value="${escape(value)}">`).join('');
  const html = `<!doctype html><html lang="en"><title>prize</title><form method="post" action="${action}">${inputs}<button>Win a prize</button></form></html>`;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://localhost:${port}/`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
