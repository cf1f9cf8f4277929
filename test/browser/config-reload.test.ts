import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { accessibilityViolations, findChromium, fitsWidth, launchChromium, screenshot, watchPage } from '../helpers/browser.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { skipOrFail } from '../setup/skip-or-fail.js';

/**
 * Reloading the configuration from its console page in a real Chromium,
 * against the bridge as a process on a config file: Reload (after its
 * confirmation page) with a changed file shows the new load time and what
 * changed; with a changed server.port, by the keyboard alone, the refusal
 * with its key; axe on the page in both states and on the confirmation.
 */
const chromiumFound = findChromium();
if (!chromiumFound.path) skipOrFail('configuration reload browser tests', chromiumFound.reason ?? 'no Chromium');
const note = chromiumFound.path ? '' : ` — SKIPPED: ${chromiumFound.reason}`;

const ADMIN_TOKEN = 'browser-reload-token-8d2f61c0a4';
const HMAC_SECRET = 'whsec-browser-reload-b7e1';

describe.skipIf(!chromiumFound.path)(`reloading the configuration in Chromium${note}`, () => {
  let dir: string;
  let configPath: string;
  let bridge: ChildBridge;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: ReturnType<typeof watchPage>;

  const admin = () => bridge.adminUrl as string;
  function configWith(extra: Record<string, unknown> = {}, connectors: Record<string, unknown> = {}) {
    return {
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(dir, 'bridge.db') },
      admin: { host: '127.0.0.1', port: 0, token: '${ADMIN_TOKEN}' },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [HMAC_SECRET] } } }],
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') }, ...connectors },
      routes: [{ name: 'all', to: ['events', ...Object.keys(connectors)] }],
      ...extra,
    };
  }
  const write = (config: Record<string, unknown>) => writeFileSync(configPath, YAML.stringify(config));
  const loadedAt = () => page.locator('#loaded-at').getAttribute('datetime');

  /** axe in light and dark, a screenshot of each, and the page at 360 px. */
  async function check(name: string, path: string): Promise<string[]> {
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${admin()}${path}`);
      problems.push(...(await accessibilityViolations(page)).map((violation) => `${name} (${scheme}): ${violation}`));
      await screenshot(page, `${name}-${scheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    const narrow = await browser.newContext({ viewport: { width: 360, height: 740 }, storageState: await context.storageState() });
    try {
      const small = await narrow.newPage();
      await small.goto(`${admin()}${path}`);
      if (!(await fitsWidth(small))) problems.push(`${name}: wider than 360 px`);
    } finally {
      await narrow.close();
    }
    return problems;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-console-reload-'));
    configPath = join(dir, 'config.yaml');
    write(configWith());
    bridge = await startChildBridge(configPath, { env: { ADMIN_TOKEN }, timeoutMs: 60_000 });
    browser = await launchChromium(chromiumFound.path as string);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page, admin());
    await page.goto(`${admin()}/ui/login`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    expect(new URL(page.url()).pathname).toBe('/ui/');
  });

  afterAll(async () => {
    await browser?.close();
    if (bridge) await stopChildBridge(bridge);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('Reload with a changed file: after the confirmation, the page shows the new load time and what changed', async () => {
    await page.goto(`${admin()}/ui/config`);
    expect(await page.locator('#reload-answer').innerText()).toBe('No reload since this process started.');
    const before = await loadedAt();
    write(configWith({}, { archive: { type: 'file', path: join(dir, 'archive.jsonl') } }));

    await Promise.all([page.waitForURL(/\/ui\/config\/reload$/), page.getByRole('link', { name: 'Reload the configuration…' }).click()]);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Reload the configuration?');
    expect(await check('config-reload-confirm', '/ui/config/reload')).toEqual([]);
    await Promise.all([page.waitForURL(/\/ui\/config\?done=reloaded$/), page.getByRole('button', { name: 'Reload', exact: true }).click()]);

    expect(await page.getByRole('status').innerText()).toMatch(/^The configuration was reloaded/);
    expect(await page.locator('#reload-answer').innerText()).toMatch(/^Applied at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, from the console\.$/);
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).toMatch(/Connectors added\s+archive/);
    expect(facts).toMatch(/Connectors kept\s+events/);
    expect(Date.parse((await loadedAt())!)).toBeGreaterThan(Date.parse(before!));
    expect(await page.locator('pre.json').innerText()).toContain('archive:');
    expect(await check('config-reload-applied', '/ui/config')).toEqual([]);
    watch.expectClean('reload applied');
  });

  it('a changed server.port, with the keyboard alone: the refusal with its code and key, the load time unchanged', async () => {
    await page.goto(`${admin()}/ui/config`);
    const before = await loadedAt();
    write(configWith({ server: { host: '127.0.0.1', port: 1 } }, { archive: { type: 'file', path: join(dir, 'archive.jsonl') } }));

    // From the top of the page, Tab to the link, Enter; then Tab to the button, Enter.
    async function tabTo(text: string): Promise<void> {
      let reached = false;
      for (let presses = 0; presses < 20 && !reached; presses++) {
        await page.keyboard.press('Tab');
        reached = (await page.evaluate('document.activeElement?.textContent?.trim()')) === text;
      }
      expect(reached, `Tab reaches "${text}"`).toBe(true);
    }
    await tabTo('Reload the configuration…');
    await Promise.all([page.waitForURL(/\/ui\/config\/reload$/), page.keyboard.press('Enter')]);
    await tabTo('Reload');
    await Promise.all([page.waitForURL(/\/ui\/config\?done=reload-refused$/), page.keyboard.press('Enter')]);

    expect(await page.getByRole('status').innerText()).toMatch(/^The reload was refused/);
    const answer = await page.locator('#reload-answer').innerText();
    expect(answer).toMatch(/^Refused at .+ UTC, from the console: the running configuration stays\./);
    expect(answer).toContain('Code: CONFIG_NOT_RELOADABLE');
    const rows: string[][] = [];
    for (const row of await page.getByRole('table', { name: 'Why' }).locator('tbody tr').all()) rows.push(await row.locator('td').allInnerTexts());
    expect(rows).toEqual([['server.port', 'CONFIG_NOT_RELOADABLE', expect.stringMatching(/^cannot change while running/)]]);
    expect(await loadedAt()).toBe(before);
    expect(await check('config-reload-refused', '/ui/config')).toEqual([]);
    watch.expectClean('reload refused');
  });
});
