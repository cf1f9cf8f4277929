import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context } from 'koa';

/** Beside this module in src/ and in dist/ (the build script in package.json copies it). */
const STYLESHEET = new URL('./assets/console.css', import.meta.url);

export interface Asset {
  /** Where it is served: its name carries a hash of its content, so it can be cached for ever. */
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
}

/** The console's stylesheet, read once from the package; there is no script. */
export function loadAssets(): Asset[] {
  const body = readFileSync(STYLESHEET);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return [{ path: `/ui/assets/console.${hash}.css`, type: 'text/css; charset=utf-8', body }];
}

/** Serves `asset` with a year's cache: a new content has a new name. */
export function serveAsset(ctx: Context, asset: Asset): void {
  ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
  ctx.type = asset.type;
  ctx.body = asset.body;
}
