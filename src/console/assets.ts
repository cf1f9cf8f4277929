import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'koa';

/** Beside this module in src/ and in dist/ (the build script in package.json copies them). */
const STYLESHEET = new URL('./assets/console.css', import.meta.url);
/** The live tail's script: the only one, a progressive enhancement of a page that works without it (docs/console.md). */
const TAIL_SCRIPT = new URL('./assets/tail.js', import.meta.url);

export interface Asset {
  /** Where it is served: its name carries a hash of its content, so it can be cached for ever. */
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
}

function hashed(file: URL, name: string, extension: string, type: string): Asset {
  const body = readFileSync(file);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { path: `/ui/assets/${name}.${hash}.${extension}`, type, body };
}

/** The console's stylesheet and the live tail's script, read once from the package. */
export function loadAssets(): { readonly css: Asset; readonly tailScript: Asset; readonly all: readonly Asset[] } {
  const css = hashed(STYLESHEET, 'console', 'css', 'text/css; charset=utf-8');
  const tailScript = hashed(TAIL_SCRIPT, 'tail', 'js', 'text/javascript; charset=utf-8');
  return { css, tailScript, all: [css, tailScript] };
}

/** Serves `asset` with a year's cache: a new content has a new name. */
export function serveAsset(ctx: Context, asset: Asset): void {
  ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
  ctx.type = asset.type;
  ctx.body = asset.body;
}
