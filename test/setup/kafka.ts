import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/**
 * vitest globalSetup: a real Kafka broker for the Kafka tests.
 *
 * - `KAFKA_BROKERS` set (an existing cluster, or the one `.ci/run` started):
 *   used as it is, and left running.
 * - else `scripts/kafka.sh start` starts a broker for this run alone (its own
 *   run directory, free ports), and teardown stops it. Test runs side by side
 *   in one work tree each get their own, so one run's teardown never pulls
 *   the broker from under another.
 *
 * Without Java or Maven (kafka.sh exits 3) the Kafka tests are skipped with a
 * message, except under CI=true, where that fails the run. The same check
 * tells the tests whether they may start brokers of their own (the
 * broker-outage test does).
 */

export const KAFKA_SCRIPT = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));

export interface KafkaTestEnv {
  /** `host:port[,host:port]`, or null when the Kafka tests are skipped. */
  readonly brokers: string | null;
  /** Why the Kafka tests are skipped, when they are. */
  readonly skipReason: string | null;
  /** Why tests that start a broker of their own with scripts/kafka.sh are skipped, when they are. */
  readonly ownBrokerSkipReason: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafka: KafkaTestEnv;
  }
}

/** kafka.sh's exit code when java or mvn is missing. */
export const TOOLS_MISSING = 3;

const SCRIPT_TIMEOUT_MS = 5 * 60_000;

/** Runs scripts/kafka.sh; bounded in time (the first fetch downloads the jars). */
export function runKafkaScript(command: 'start' | 'stop' | 'fetch', env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [KAFKA_SCRIPT, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: SCRIPT_TIMEOUT_MS });
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

/** Under CI a missing broker is a failure; elsewhere the tests are skipped, loudly. */
function skipOrFail(what: string, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${what} cannot run under CI=true: ${reason}`);
  const line = '='.repeat(78);
  process.stderr.write(`\n${line}\n${what.toUpperCase()} SKIPPED: ${reason}\nInstall a JDK (17+) and Maven to run them.\n${line}\n\n`);
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.KAFKA_BROKERS?.trim();
  if (given) {
    // Fetching up front makes the jars ready for the tests that start their own broker.
    const fetch = await runKafkaScript('fetch');
    const reason = fetch.code === 0 ? null : `scripts/kafka.sh fetch failed (exit ${fetch.code}): ${fetch.stderr.trim()}`;
    if (reason) skipOrFail('Kafka tests that start their own broker', reason);
    process.stderr.write(`kafka tests: using KAFKA_BROKERS=${given}\n`);
    project.provide('kafka', { brokers: given, skipReason: null, ownBrokerSkipReason: reason });
    return undefined;
  }

  process.stderr.write('kafka tests: starting a broker with scripts/kafka.sh start ...\n');
  let broker: ScriptBroker;
  try {
    broker = await startScriptBroker({ autoCreate: true });
  } catch (err) {
    if (err instanceof KafkaScriptError && err.code === TOOLS_MISSING) {
      const reason = err.message.split('\n').slice(1).join(' ') || 'java or mvn not found';
      skipOrFail('Kafka tests', reason);
      project.provide('kafka', { brokers: null, skipReason: reason, ownBrokerSkipReason: reason });
      return undefined;
    }
    // A broker that should start and does not is a failure everywhere.
    throw err;
  }
  process.stderr.write(`kafka tests: broker ready at ${broker.brokers}\n`);
  project.provide('kafka', { brokers: broker.brokers, skipReason: null, ownBrokerSkipReason: null });
  return async () => {
    await broker.destroy().catch((err: unknown) => process.stderr.write(`${(err as Error).message}\n`));
  };
}
