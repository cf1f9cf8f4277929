import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * A function of more than about 80 lines is several things that want names of
 * their own. This lists every function in src/ and connectors/ (nested ones
 * too: a factory counts with the closures inside it) longer than `MAX_LINES`,
 * and fails on any that is not in `ALLOWED`.
 */
const MAX_LINES = 80;

/**
 * Functions allowed to be longer than `MAX_LINES`, each by file and name with
 * a comment saying why: only a flat table qualifies. A function that shrinks
 * must leave the list (the test says so).
 */
const ALLOWED: ReadonlySet<string> = new Set<string>([]);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** A function's own name, or what it is assigned to or passed to when it has none. */
function nameOf(node: ts.Node, file: ts.SourceFile): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isFunctionExpression(node)) && node.name) return node.name.getText(file);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(file);
  if (ts.isCallExpression(parent)) return `(${parent.expression.getText(file)} callback)`;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isAccessor(node)) return node.name.getText(file);
  return '(anonymous)';
}

/** Every function longer than `MAX_LINES` in `path`, named by the named functions it is nested in. */
function longFunctions(path: string): { name: string; lines: number }[] {
  const file = ts.createSourceFile(path, readFileSync(join(ROOT, path), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node, outer: string[]): void => {
    let inner = outer;
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      inner = [...outer, nameOf(node, file)];
      const first = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const last = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (last - first + 1 > MAX_LINES) found.push({ name: inner.join('.'), lines: last - first + 1 });
    } else if (ts.isObjectLiteralExpression(node) && ts.isVariableDeclaration(node.parent)) {
      // A constant object of methods (a connector definition) names them.
      inner = [...outer, node.parent.name.getText(file)];
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(file, []);
  return found;
}

describe('function length', () => {
  const long = ['src', 'connectors'].flatMap(sourceFiles).flatMap((path) => longFunctions(path).map((fn) => ({ key: `${path} ${fn.name}`, lines: fn.lines })));

  it(`no function in src/ or connectors/ is over ${MAX_LINES} lines, except those listed`, () => {
    expect(long.filter((fn) => !ALLOWED.has(fn.key)).map((fn) => `${fn.key} (${fn.lines} lines)`)).toEqual([]);
  });

  it('every function listed is still over the limit (a shrunk one leaves the list)', () => {
    const stillLong = new Set(long.map((fn) => fn.key));
    expect([...ALLOWED].filter((key) => !stillLong.has(key))).toEqual([]);
  });
});
