import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The built CLI; `npm test` builds first (pretest). */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface ChildBridge {
  readonly process: ChildProcess;
  readonly url: string;
  /** The admin API's base URL, when the config turned it on (`admin.token`). */
  readonly adminUrl: string | undefined;
  /** Everything the process wrote, for failure messages. */
  readonly output: () => string;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/**
 * Runs `audian-bridge serve --config FILE` (no FILE: the config lookup) as a real process and waits until it listens;
 * `onSpawn` gets the process at once, to act on it while it starts.
 */
export async function startChildBridge(
  configPath: string | undefined,
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<ChildBridge> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
  const child = spawn(process.execPath, [CLI, 'serve', ...(configPath === undefined ? [] : ['--config', configPath])], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let output = '';
  let adminUrl: string | undefined;
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start in time:\n${output}`)), options.timeoutMs ?? 15_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'admin API listening') adminUrl = entry.url;
        if (entry.msg === 'audian-bridge listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited (${String(code)}) before listening:\n${output}`));
    });
  });
  return { process: child, url, adminUrl, output: () => output, exited };
}

/** Asks the process to stop (SIGTERM) and waits for it. */
export async function stopChildBridge(bridge: ChildBridge, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | NodeJS.Signals | null> {
  if (bridge.process.exitCode === null && bridge.process.signalCode === null) bridge.process.kill(signal);
  return bridge.exited;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one `audian-bridge` command to its end; stdin gets `input` (or nothing) and is closed; an `env` value of undefined unsets that variable. */
export async function runCli(args: readonly string[], options: { cwd?: string; input?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  // A command that exits without reading stdin closes the pipe under the write: not the test's failure.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}
