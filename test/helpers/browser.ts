import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Debian's Chromium, driven by playwright-core (no browser download). The
 * flags: headless, as root in a container without a sandbox, and nothing
 * that reaches the network on its own (the machine may have none).
 */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** `CHROMIUM_PATH`, else Debian's and Ubuntu's places for it. */
export function findChromium(): { readonly path: string | null; readonly reason: string | null } {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((path): path is string => Boolean(path));
  const path = candidates.find((candidate) => existsSync(candidate)) ?? null;
  return { path, reason: path ? null : `no Chromium at ${candidates.join(' or ')} (apt-get install chromium, or set CHROMIUM_PATH)` };
}

export function launchChromium(path: string): Promise<Browser> {
  return chromium.launch({ executablePath: path, args: FLAGS, timeout: 60_000 });
}

/** Where each page's screenshot goes (git-ignored); two of them are copied into docs/images by hand. */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/console/', import.meta.url));

/**
 * What a page must never do, watched for its whole life: open a dialog
 * (a script ran), request anything from another origin (a payload reached
 * out), or break the Content-Security-Policy (inline script or style).
 */
export function watchPage(page: Page, origin: string) {
  const dialogs: string[] = [];
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) foreign.push(url);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return {
    dialogs,
    foreign,
    errors,
    /** Nothing happened that should not have. */
    expectClean(what: string): void {
      expect(dialogs, `${what}: dialogs`).toEqual([]);
      expect(foreign, `${what}: requests to another origin`).toEqual([]);
      expect(errors.filter((text) => /Content Security Policy|Refused to/i.test(text)), `${what}: CSP violations`).toEqual([]);
    },
  };
}

/** axe with the WCAG 2.1 A and AA rules: every violation, with where it is, for the failure message. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join('; ')})`);
}

/** A full-page screenshot under SCREENSHOTS. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** The page fits its viewport's width: nothing but a table's own scrolling region is wider. */
export async function fitsWidth(page: Page): Promise<boolean> {
  // A string, evaluated in the page: this project's TypeScript has no DOM types.
  return (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) === true;
}
