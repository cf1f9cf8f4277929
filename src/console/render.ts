import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';

/** Beside this module in src/ and in dist/ (the build script in package.json copies them). */
const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));

/** Text longer than this is cut in lists (a 1 MB caller name stays whole on its own page). */
const LIST_TEXT = 120;

export const NAV = [
  { key: 'overview', label: 'Overview', href: '/ui/' },
  { key: 'deliveries', label: 'Deliveries', href: '/ui/deliveries' },
  { key: 'calls', label: 'Calls', href: '/ui/calls' },
  { key: 'connectors', label: 'Connectors', href: '/ui/connectors' },
  { key: 'tail', label: 'Live tail', href: '/ui/tail' },
  { key: 'config', label: 'Configuration', href: '/ui/config' },
] as const;

const two = (value: number) => String(value).padStart(2, '0');

/** `2026-03-01 12:00:05 UTC`: one zone for every operator, as the logs and the API speak. */
function time(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) return String(value);
  return `${at.getUTCFullYear()}-${two(at.getUTCMonth() + 1)}-${two(at.getUTCDate())} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} UTC`;
}

/** A span of time for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
function span(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  return `${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

/** `/ui/...` with every query value encoded; empty values left out. */
export function link(path: string, query: Readonly<Record<string, string | readonly string[] | undefined>> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of typeof value === 'string' ? [value] : (value ?? [])) if (item !== '') params.append(key, item);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * What every template gets as `it.h`. Everything a template prints goes
 * through Eta's escaping (`<%= %>`); links are built here, from fixed paths
 * and encoded ids, so a value from a webhook can never become a scheme.
 */
export function helpers(now: number) {
  return {
    nav: NAV,
    time,
    span,
    /** How long ago `value` was, from this page's `now`. */
    ago: (value: string | number | null | undefined) => (value === null || value === undefined ? '' : span(now - new Date(value).getTime())),
    short: (text: string | null | undefined, max = LIST_TEXT) => (text === null || text === undefined ? '' : text.length > max ? `${text.slice(0, max)}…` : text),
    json: (value: unknown) => JSON.stringify(value, null, 2),
    link,
    delivery: (id: number) => `/ui/deliveries/${id}`,
    event: (id: string) => `/ui/events/${encodeURIComponent(id)}`,
    call: (id: string) => `/ui/calls/${encodeURIComponent(id)}`,
    connector: (name: string, action: 'pause' | 'resume') => `/ui/connectors/${encodeURIComponent(name)}/${action}`,
  };
}

export type Helpers = ReturnType<typeof helpers>;

export interface PageFrame {
  /** The page's own title, before the product's name. */
  readonly title: string;
  /** Which navigation entry is this page's. */
  readonly nav?: (typeof NAV)[number]['key'];
  /** The signed-in session's form token; absent on the login and error pages of someone not signed in. */
  readonly csrf?: string;
  /** A short line at the top: what an action just did. */
  readonly notice?: string;
  /** Load the live tail's script (the only page with one). */
  readonly script?: boolean;
}

/** Renders the console's templates with escaping on; `css` and `script` are the assets' hashed paths. */
export function createRenderer(options: { readonly css: string; readonly script: string; readonly now: () => number }) {
  const eta = new Eta({ views: VIEWS, autoEscape: true, cache: true, defaultExtension: '.eta' });
  return {
    /** `view` with the layout, as the response's HTML body. */
    page(ctx: Context, view: string, frame: PageFrame, data: Record<string, unknown> = {}): void {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = eta.render(view, { ...data, ...frame, css: options.css, script: frame.script ? options.script : undefined, h: helpers(options.now()) });
    },
  };
}

export type Renderer = ReturnType<typeof createRenderer>;
