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
 * The console's live tail and the overview's charts in a real Chromium,
 * against the bridge as a real process: a webhook sent during the test
 * shows within 5 s, Pause stops the updates, the filters apply, and axe
 * finds nothing in light or dark mode.
 */
const chromiumFound = findChromium();
if (!chromiumFound.path) skipOrFail('live tail browser tests', chromiumFound.reason ?? 'no Chromium');
const note = chromiumFound.path ? '' : ` — SKIPPED: ${chromiumFound.reason}`;

const ADMIN_TOKEN = 'browser-tail-token-51c0e9a2d7';
const SECRET = 'whsec-browser-tail-8f2e';
const HOSTILE_NAME = '<img src=x onerror=alert("tail")>';

describe.skipIf(!chromiumFound.path)(`the live tail in Chromium${note}`, () => {
  let dir: string;
  let bridge: ChildBridge;
  let browser: Browser;
  let page: Page;
  let watch: ReturnType<typeof watchPage>;
  let admin: string;
  let calls = 0;

  async function post(source: 'main' | 'other', body: unknown): Promise<void> {
    const result = await postWebhook(`${bridge.url}/webhooks/${source}`, body, { secret: SECRET });
    expect(result.status).toBe(200);
  }
  const newCall = () => `tail-call-${++calls}-${Date.now()}`;
  const rows = () => page.locator('#tail-rows tr');
  const rowOf = (call: string) => page.locator('#tail-rows tr', { hasText: call });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-live-tail-'));
    const path = join(dir, 'config.yaml');
    writeFileSync(path, YAML.stringify({
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'bridge.db') },
      dispatch: { poll_interval: '100ms' },
      admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
      sources: [
        { name: 'main', path: '/webhooks/main', verify: { hmac: { secrets: [SECRET] } } },
        { name: 'other', path: '/webhooks/other', verify: { hmac: { secrets: [SECRET] } } },
      ],
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
      routes: [{ name: 'all', to: 'events' }],
    }));
    bridge = await startChildBridge(path, { timeoutMs: 60_000 });
    admin = bridge.adminUrl!;
    browser = await launchChromium(chromiumFound.path as string);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page, admin);
    await page.goto(`${admin}/ui/login?next=${encodeURIComponent('/ui/tail')}`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  });

  afterAll(async () => {
    await browser?.close();
    if (bridge) await stopChildBridge(bridge);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('says it shows one replica, and shows a webhook sent meanwhile within 5 s, as text', async () => {
    await page.goto(`${admin}/ui/tail`);
    expect(await page.locator('h1').textContent()).toBe('Live tail');
    expect(await page.locator('main').textContent()).toContain('this page shows one replica');
    await expect.poll(() => page.locator('#tail-status').textContent(), { timeout: 10_000 }).toContain('Live');
    const call = newCall();
    const sent = Date.now();
    await post('main', audianV2Calls.initiated(call, { direction: 'inbound', from: HOSTILE_NAME, to: '+4930123456' }, sent));
    const webhook = rowOf(call).filter({ hasText: 'accepted' }).first();
    await webhook.waitFor({ timeout: 5_000 });
    expect(Date.now() - sent).toBeLessThan(5_000);
    const text = await webhook.textContent();
    expect(text).toContain('call.initiated');
    expect(text).toContain(HOSTILE_NAME);
    expect(await page.locator('#tail-rows img').count()).toBe(0);
    // Its delivery outcome follows.
    await page.locator('#tail-rows tr', { hasText: call }).filter({ hasText: 'delivered' }).first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'tail-light');
    watch.expectClean('live tail');
  });

  it('Pause stops the updates; Resume starts them again', async () => {
    await page.goto(`${admin}/ui/tail`);
    await expect.poll(() => page.locator('#tail-status').textContent(), { timeout: 10_000 }).toContain('Live');
    await page.getByRole('button', { name: 'Pause' }).click();
    expect(await page.locator('#tail-status').textContent()).toContain('Paused');
    const before = await rows().count();
    const quiet = newCall();
    await post('main', audianV2Calls.initiated(quiet, { direction: 'inbound' }, Date.now()));
    // Well past the 5 s the tail takes while live: nothing came in.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await rowOf(quiet).count()).toBe(0);
    expect(await rows().count()).toBe(before);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.locator('#tail-status').textContent(), { timeout: 10_000 }).toContain('Live');
    const loud = newCall();
    await post('main', audianV2Calls.initiated(loud, { direction: 'inbound' }, Date.now()));
    await rowOf(loud).first().waitFor({ timeout: 5_000 });
    watch.expectClean('pause');
  });

  it('filters by source and type, in the URL, live and on reload', async () => {
    await page.goto(`${admin}/ui/tail`);
    await page.getByLabel('Source').fill('other');
    await page.getByLabel('Event type').fill('call.answ*');
    await Promise.all([page.waitForURL(/source=other/), page.getByRole('button', { name: 'Filter' }).click()]);
    const query = new URL(page.url()).searchParams;
    expect([query.get('source'), query.get('type')]).toEqual(['other', 'call.answ*']);
    await expect.poll(() => page.locator('#tail-status').textContent(), { timeout: 10_000 }).toContain('Live');
    const call = newCall();
    await post('main', audianV2Calls.initiated(call, { direction: 'inbound' }, Date.now()));
    await post('other', audianV2Calls.initiated(call, { direction: 'inbound' }, Date.now()));
    await post('main', audianV2Calls.answered(call, Date.now()));
    await post('other', audianV2Calls.answered(call, Date.now()));
    await rowOf(call).first().waitFor({ timeout: 5_000 });
    // The delivery of the other source's answer is the last thing the filter can show.
    await rowOf(call).filter({ hasText: 'delivered' }).first().waitFor({ timeout: 10_000 });
    const shown = await rowOf(call).allTextContents();
    expect(shown.length).toBe(2);
    expect(shown.every((row) => row.includes('call.answered'))).toBe(true);
    await page.reload();
    expect(await rowOf(call).count()).toBe(2);
    watch.expectClean('filters');
  });

  it('the overview shows the last hour\'s numbers and the charts; axe finds nothing on either page, light or dark, nor at 360 px', async () => {
    await page.goto(`${admin}/ui/`);
    const intake = page.locator('section', { has: page.locator('#intake') });
    expect(Number(await intake.locator('dt:has-text("Accepted") + dd').textContent())).toBeGreaterThanOrEqual(7);
    expect(await page.locator('figure.chart svg[role="img"]').count()).toBe(4);
    expect(await page.locator('figure.chart svg title').first().textContent()).toContain('per minute');
    const problems: string[] = [];
    for (const [name, path] of [['overview-charts', '/ui/'], ['tail', '/ui/tail']] as const) {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(`${admin}${path}`);
        if (name === 'tail') await expect.poll(() => page.locator('#tail-status').textContent(), { timeout: 10_000 }).toContain('Live');
        problems.push(...(await accessibilityViolations(page)).map((violation) => `${name} (${scheme}): ${violation}`));
        await screenshot(page, `${name}-${scheme}`);
      }
      await page.setViewportSize({ width: 360, height: 740 });
      await page.goto(`${admin}${path}`);
      if (!(await fitsWidth(page))) problems.push(`${name}: wider than 360 px`);
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    expect(problems).toEqual([]);
    watch.expectClean('overview and tail');
  });
});
