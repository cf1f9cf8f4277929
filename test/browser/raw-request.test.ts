import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { postWebhook } from '../helpers/bridge.js';
import { accessibilityViolations, findChromium, fitsWidth, launchChromium, screenshot, watchPage } from '../helpers/browser.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * The event page's "request as it arrived" (`store.keep_raw`) in a real
 * Chromium: a signed webhook with hostile header values and a 1 MB hostile
 * body shows as text, the body cut with a note, the signature's value
 * nowhere in the page, and axe finds nothing in light and dark mode.
 */
const chromiumFound = findChromium();
if (!chromiumFound.path) skipOrFail('raw request browser tests', chromiumFound.reason ?? 'no Chromium');
const note = chromiumFound.path ? '' : ` — SKIPPED: ${chromiumFound.reason}`;

const ADMIN_TOKEN = 'raw-browser-admin-token-5e1c8a';
const HMAC_SECRET = 'whsec-raw-browser-3f9b';
const HOSTILE_HEADER = '<img src=x onerror=alert("header")>';
const HOSTILE_NAME = '<script>alert("name")</script>';
const BIG = `${'B'.repeat(1_000_000)}<script>alert("big")</script>`;

describe.skipIf(!chromiumFound.path)(`the raw request on the event page${note}`, () => {
  let dir: string;
  let bridge: ChildBridge;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-raw-console-'));
    const config = {
      server: { host: '127.0.0.1', port: 0, body_limit: '3mb' },
      store: { path: join(dir, 'bridge.db') },
      admin: { host: '127.0.0.1', port: 0, token: '${ADMIN_TOKEN}' },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [HMAC_SECRET] } } }],
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
      routes: [{ name: 'all', to: 'events' }],
    };
    writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config));
    bridge = await startChildBridge(join(dir, 'config.yaml'), { env: { ADMIN_TOKEN }, timeoutMs: 60_000 });
    browser = await launchChromium(chromiumFound.path as string);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${bridge.adminUrl}/ui/login`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  });

  afterAll(async () => {
    await browser?.close();
    if (bridge) await stopChildBridge(bridge);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the headers and the body as text, without the signature, and passes axe in light and dark mode', async () => {
    const body = JSON.stringify({
      ...audianV2Calls.initiated('raw-call', { direction: 'inbound', from: '+14155550100', to: '+4930123456', fromName: HOSTILE_NAME }, Date.now()),
      id: 'evt_raw_initiated',
    });
    const sent = await postWebhook(`${bridge.url}/webhooks/audian`, body, { secret: HMAC_SECRET, headers: { 'x-hostile': HOSTILE_HEADER, cookie: 'session=never-shown' } });
    expect(sent.status).toBe(200);
    const watch = watchPage(page, bridge.adminUrl as string);

    await page.goto(`${bridge.adminUrl}/ui/events/evt_raw_initiated`);
    const cells = await page.getByRole('table', { name: /Its headers/ }).locator('tbody td').allTextContents();
    const rows = cells.flatMap((cell, index) => (index % 2 === 0 ? [[cell, cells[index + 1]]] : []));
    expect(rows).toContainEqual(['x-hostile', HOSTILE_HEADER]);
    expect(rows).toContainEqual(['x-audian-signature', '[redacted]']);
    expect(rows).toContainEqual(['cookie', '[redacted]']);
    expect(await page.locator('pre.json').nth(1).textContent()).toBe(body);
    const html = await page.content();
    expect(html).not.toMatch(/sha256=[0-9a-f]{64}/);
    expect(html).not.toContain('never-shown');
    await page.hover('main');
    expect(await page.locator('main script, main img, main [onerror]').count()).toBe(0);

    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.reload();
      problems.push(...(await accessibilityViolations(page)).map((violation) => `${scheme}: ${violation}`));
      await screenshot(page, `event-raw-${scheme}`);
    }
    await page.setViewportSize({ width: 360, height: 740 });
    await page.reload();
    if (!(await fitsWidth(page))) problems.push('wider than 360 px');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(problems).toEqual([]);
    watch.expectClean('the raw request');
  });

  it('cuts a 1 MB body on the page with a note: the page stays whole and nothing in it runs', async () => {
    const body = JSON.stringify({ ...audianV2Calls.initiated('big-call', { direction: 'inbound', from: '+14155550101', to: '+4930123456' }, Date.now()), id: 'evt_big_initiated', note: BIG });
    expect((await postWebhook(`${bridge.url}/webhooks/audian`, body, { secret: HMAC_SECRET })).status).toBe(200);
    const watch = watchPage(page, bridge.adminUrl as string);
    await page.goto(`${bridge.adminUrl}/ui/events/evt_big_initiated`);
    const shown = (await page.locator('pre.json').nth(1).textContent()) as string;
    expect(shown.length).toBe(64 * 1024);
    expect(body.startsWith(shown)).toBe(true);
    expect(await page.getByText(/Only the first 65536 characters are shown/).count()).toBe(1);
    expect(await page.getByText(`Its body: ${Buffer.byteLength(body)} bytes.`).count()).toBe(1);
    // What follows the body is there: the deliveries table.
    expect(await page.getByRole('table', { name: 'Its deliveries' }).count()).toBe(1);
    expect(await page.locator('main script, main img').count()).toBe(0);
    watch.expectClean('a 1 MB body');
  });
});
