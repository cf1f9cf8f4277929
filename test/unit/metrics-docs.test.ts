import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The metrics table of docs/operations.md against the code: every metric the
 * source names (`'audian_bridge_...'`, the prefix is the service's own) has its
 * row, and every row is a metric the source names.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('docs/operations.md, the metrics table', () => {
  it('lists every metric the code defines, and no other', () => {
    const defined = new Set(sources('src').flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/'(audian_bridge_[a-z_]+)'/g)].map((match) => match[1]!)));
    const page = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const table = page.slice(page.indexOf('| metric | labels | |'));
    const documented = new Set([...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `(audian_bridge_[a-z_]+)` \|/gm)].map((match) => match[1]!));
    expect(defined.size).toBeGreaterThan(10);
    expect([...documented].sort()).toEqual([...defined].sort());
  });
});
