import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { baseConfig } from '../helpers/bridge.js';
import { CLI } from '../helpers/child-bridge.js';

/**
 * Which code loads the vendor clients. Each case runs the built code in a
 * process of its own with a module hook that throws when kafkajs or
 * @slack/web-api is resolved; `check` (which builds the registry) shows the
 * hook does throw.
 */
const FORBIDDEN = ['kafkajs', '@slack/web-api'];
const HOOKS = `
let forbidden = [];
export function initialize(data) { forbidden = data; }
const hit = (text) => forbidden.find((name) => text === name || text.startsWith(name + '/') || text.includes('/node_modules/' + name + '/'));
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const name = hit(specifier) ?? hit(resolved.url);
  if (name) throw new Error('FORBIDDEN_MODULE ' + name + ' imported by ' + context.parentURL);
  return resolved;
}`;
const REGISTER = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), { data: ${JSON.stringify(FORBIDDEN)} });`;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-boundaries-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function node(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, ...args], { cwd: dir }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input ?? '');
  });
}

describe('the vendor clients load only where connectors are built', () => {
  it('the hook refuses them: `check` builds the registry and fails under it', async () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(path, YAML.stringify(baseConfig(dir)));
    const result = await node([CLI, 'check', '--config', path]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/FORBIDDEN_MODULE (kafkajs|@slack\/web-api)/);
  });

  it('`audian-bridge sign`, `--help` and `help COMMAND` load neither', async () => {
    const signed = await node([CLI, 'sign', '--secret', 's3cret'], '{"event":"call.initiated","data":{}}');
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    expect(signed.stdout).toMatch(/^x-audian-signature: /im);
    for (const args of [['--help'], ['help', 'send']]) {
      const help = await node([CLI, ...args]);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toContain('usage: audian-bridge');
    }
  });

  it('the config module validates a config with a registry handed in, and loads neither', async () => {
    const script = `
      const { parseConfig } = await import(${JSON.stringify(join(ROOT, 'dist/src/config/load.js'))});
      const { createRegistry } = await import(${JSON.stringify(join(ROOT, 'dist/src/sdk/index.js'))});
      const { fileConnector } = await import(${JSON.stringify(join(ROOT, 'dist/connectors/file/index.js'))});
      const config = parseConfig(${JSON.stringify(YAML.stringify(baseConfig(dir)))}, {}, createRegistry([fileConnector]));
      process.stdout.write(config.connectors.events.type);`;
    const result = await node(['--input-type=module', '-e', script]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('file');
  });
});

/**
 * The layers point one way: http -> accept -> store -> lifecycle rules ->
 * dialects. Read from the sources' own import statements (type-only imports
 * too: a type from a layer above still ties a module to it).
 */
describe('the layers point one way', () => {
  /** What the modules under each folder may import from src/, besides their own folder. */
  const MAY_IMPORT: Record<string, readonly string[]> = {
    // Pure rules: the canonical event's types and nothing else.
    'src/lifecycle': ['src/dialects'],
    // The store applies the rules; it knows nothing of HTTP, routing, connectors or the dispatcher.
    'src/store': ['src/lifecycle', 'src/dialects', 'src/errors.ts'],
  };

  /** Every module of src/ that `path` imports, as a path from the repository's root. */
  function importsOf(path: string): string[] {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, path), 'utf8'), true, true);
    return importedFiles
      .map((file) => file.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(ROOT, join(ROOT, dirname(path), name)).replace(/\.js$/, '.ts'));
  }

  function modulesUnder(folder: string): string[] {
    return readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
  }

  const within = (path: string, place: string) => path === place || path.startsWith(`${place}/`);

  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    it(`${folder} imports only ${allowed.join(', ')} (and itself)`, () => {
      const modules = modulesUnder(folder);
      expect(modules.length).toBeGreaterThan(0);
      const stray = modules.flatMap((path) =>
        importsOf(path)
          .filter((target) => !within(target, folder) && !allowed.some((place) => within(target, place)))
          .map((target) => `${path} -> ${target}`),
      );
      expect(stray).toEqual([]);
    });
  }
});
