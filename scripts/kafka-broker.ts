import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Local Kafka brokers from scripts/kafka.sh, for the test suite's global setup
 * and the benchmark: each broker in a fresh run directory on free ports, so
 * stopping one never touches another.
 */

/** scripts/kafka.sh, found from wherever this module runs (its source, or its build under dist/). */
export const KAFKA_SCRIPT = findUp(join('scripts', 'kafka.sh'));

/** `relative` in the nearest folder above this module that has it. */
export function findUp(relative: string): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error(`${relative} not found above ${fileURLToPath(import.meta.url)}`);
  }
}

/** kafka.sh's exit code when java or mvn is missing. */
export const TOOLS_MISSING = 3;

const SCRIPT_TIMEOUT_MS = 5 * 60_000;

/** Runs scripts/kafka.sh; bounded in time (the first fetch downloads the jars). */
export function runKafkaScript(command: 'start' | 'stop' | 'fetch', env: Record<string, string> = {}): Promise<ScriptResult> {
  return runScript(KAFKA_SCRIPT, command, env, SCRIPT_TIMEOUT_MS);
}

export interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one of the scripts here with `bash`, the caller's environment plus `env`, killed after `timeoutMs`. */
export function runScript(script: string, command: string, env: Record<string, string>, timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class KafkaScriptError extends Error {
  constructor(
    readonly code: number | null,
    message: string,
  ) {
    super(message);
  }
}

export interface ScriptBroker {
  readonly brokers: string;
  /** Stops the broker process; its data stays. */
  stop(): Promise<void>;
  /** Kills the broker process with SIGKILL (a crash, no clean shutdown); its data stays. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the data it had. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/** A broker started by scripts/kafka.sh in a fresh run directory on free ports. */
export async function startScriptBroker(options: { autoCreate: boolean }): Promise<ScriptBroker> {
  const runDir = mkdtempSync(join(tmpdir(), 'audian-bridge-kafka-'));
  const env = {
    KAFKA_RUN_DIR: runDir,
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_AUTO_CREATE: String(options.autoCreate),
  };
  const start = async (keepData: boolean) => {
    const result = await runKafkaScript('start', { ...env, KAFKA_KEEP_DATA: keepData ? '1' : '0' });
    const brokers = /^KAFKA_BROKERS=(\S+)$/m.exec(result.stdout)?.[1];
    if (result.code !== 0 || !brokers) throw new KafkaScriptError(result.code, `scripts/kafka.sh start failed (exit ${result.code}):\n${result.stderr.trim()}`);
    return brokers;
  };
  const stop = async () => {
    const result = await runKafkaScript('stop', env);
    if (result.code !== 0) throw new KafkaScriptError(result.code, `scripts/kafka.sh stop failed (exit ${result.code}):\n${result.stderr.trim()}`);
  };
  let brokers: string;
  try {
    brokers = await start(false);
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers,
    stop,
    async kill() {
      const pid = Number(readFileSync(join(runDir, 'kafka.pid'), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
      // Gone once signal 0 cannot reach it.
      for (let tries = 0; tries < 200; tries++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`the broker (pid ${pid}) did not die of SIGKILL`);
    },
    async restart() {
      await start(true);
    },
    async destroy() {
      try {
        await stop();
      } finally {
        rmSync(runDir, { recursive: true, force: true });
      }
    },
  };
}
