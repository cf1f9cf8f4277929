import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Relative links between README.md, the pages under docs/ and the READMEs
 * beside the code: every linked file exists in the repository, and every
 * `#anchor` names a heading of its page, as GitHub renders it. Links to other
 * sites are not followed.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Not documentation: installed, built or generated trees, and the provider's documents kept as test input. */
const SKIPPED = new Set(['node_modules', 'dist', 'data', 'coverage', '.cache', '.git', join('test', 'fixtures')]);

interface Link {
  readonly line: number;
  readonly target: string;
}

/** Every Markdown file of the repository's documentation, as a path relative to the root. */
function markdownFiles(dir = ROOT): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const name = relative(ROOT, path);
    if (SKIPPED.has(name)) continue;
    if (entry.isDirectory()) found.push(...markdownFiles(path));
    else if (entry.name.endsWith('.md')) found.push(name);
  }
  return found;
}

/** The text outside fenced code blocks, line by line (fenced lines blank, so line numbers hold). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** `[text](target)` and `![alt](target)` links outside code, with their line numbers. */
function linksOf(text: string): Link[] {
  const links: Link[] = [];
  prose(text).forEach((line, index) => {
    const withoutCode = line.replace(/`[^`]*`/g, '');
    for (const match of withoutCode.matchAll(/!?\[(?:[^\]]|\][^(])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      links.push({ line: index + 1, target: match[1]! });
    }
  });
  return links;
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as `-`, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/**
 * What is wrong with each relative link of `file` (a path relative to `root`):
 * a target outside the repository or missing, or an anchor no heading has.
 */
function brokenLinks(file: string, text: string, read: (path: string) => string | undefined, isDirectory: (path: string) => boolean): string[] {
  const problems: string[] = [];
  for (const { line, target } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
    const path = pathPart === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), decodeURI(pathPart)));
    const where = `${file}:${line}: ${target}`;
    if (path.startsWith('..') || path.startsWith(sep)) {
      problems.push(`${where}: outside the repository`);
      continue;
    }
    const directory = isDirectory(path);
    const content = directory ? undefined : read(path);
    if (!directory && content === undefined) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!path.endsWith('.md') || content === undefined) {
      problems.push(`${where}: an anchor into a file that is not a Markdown page`);
    } else if (!anchorsOf(content).has(decodeURIComponent(anchor))) {
      problems.push(`${where}: no heading for #${anchor}`);
    }
  }
  return problems;
}

const readInRepository = (path: string) => {
  const full = join(ROOT, path);
  return existsSync(full) && statSync(full).isFile() ? readFileSync(full, 'utf8') : undefined;
};
const isDirectoryInRepository = (path: string) => existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isDirectory();

describe('links between the documentation pages', () => {
  const files = markdownFiles();

  it('covers README.md, docs/ and the READMEs beside the code', () => {
    expect(files).toContain('README.md');
    expect(files).toContain(join('docs', 'configuration.md'));
    expect(files).toContain(join('src', 'lifecycle', 'README.md'));
  });

  it.each(files)('%s: every relative link and anchor resolves', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect(brokenLinks(file, text, readInRepository, isDirectoryInRepository)).toEqual([]);
  });
});

describe('pages the code cites', () => {
  /** Source files: what `docs/... .md` their comments name must exist. */
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (SKIPPED.has(path)) return [];
      if (entry.isDirectory()) return sources(path);
      return /\.(ts|mjs|sh|yaml)$/.test(entry.name) ? [path] : [];
    });
  // This file's own examples name pages that do not exist, on purpose.
  const self = relative(ROOT, fileURLToPath(import.meta.url));
  const files = ['src', 'connectors', 'scripts', 'bench', 'test'].flatMap((dir) => sources(dir)).filter((file) => file !== self).concat(['config.example.yaml', 'Dockerfile']);

  it('every docs/ page named in the code exists', () => {
    const cited = files.flatMap((file) => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/\bdocs\/[\w./-]+\.md\b/g)].map((match) => ({ file, page: match[0] })));
    expect(cited.length).toBeGreaterThan(5);
    expect(cited.filter(({ page }) => !existsSync(join(ROOT, page)))).toEqual([]);
  });
});

describe('the link check', () => {
  const pages: Record<string, string> = {
    'README.md': '# Title\n\n## Quick start\n\nSee [docs](docs/a.md#the-part), [here](#quick-start), [code](src/x.ts).\n',
    'docs/a.md': "# A\n\n## The part\n\n## The part\n\n### `send`: a simulator\n\n## A connector's target\n",
  };
  const read = (path: string) => pages[path.split(sep).join('/')];

  it('passes links to existing files and headings, including repeated and code headings', () => {
    const text = '[one](a.md#the-part-1) [two](a.md#send-a-simulator) [three](a.md#a-connectors-target) [out](https://example.com/#x) `[not](nowhere.md)`\n```\n[not](nowhere.md)\n```\n';
    expect(brokenLinks('docs/b.md', text, (path) => (path === join('docs', 'a.md') ? pages['docs/a.md'] : undefined), () => false)).toEqual([]);
  });

  it('reports a missing file, a missing anchor, a path outside the repository', () => {
    const text = '[gone](gone.md)\n[anchor](a.md#no-such-part)\n[up](../../elsewhere.md)\n[self](#nothing)\n';
    const problems = brokenLinks('docs/b.md', text, (path) => (path === join('docs', 'a.md') ? pages['docs/a.md'] : path === join('docs', 'b.md') ? text : undefined), () => false);
    expect(problems).toEqual([
      'docs/b.md:1: gone.md: no such file',
      'docs/b.md:2: a.md#no-such-part: no heading for #no-such-part',
      'docs/b.md:3: ../../elsewhere.md: outside the repository',
      'docs/b.md:4: #nothing: no heading for #nothing',
    ]);
  });

  it('finds the anchors of a page the way GitHub makes them', () => {
    expect([...anchorsOf(pages['docs/a.md']!)]).toEqual(['a', 'the-part', 'the-part-1', 'send-a-simulator', 'a-connectors-target']);
    expect(brokenLinks('README.md', pages['README.md']!, read, () => false)).toEqual(['README.md:5: src/x.ts: no such file']);
  });
});
