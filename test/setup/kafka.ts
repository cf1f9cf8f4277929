import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

/**
 * vitest globalSetup: a real Kafka broker for the Kafka tests.
 *
 * - `KAFKA_BROKERS` set (an existing cluster, or the one `.ci/run` started):
 *   used as it is, and left running.
 * - else a broker already started by `scripts/kafka.sh start`: used, and left running.
 * - else `scripts/kafka.sh start` starts one, and teardown stops it.
 *
 * Without Java or Maven (kafka.sh exits 3) the Kafka tests are skipped with a
 * message, except under CI=true, where that fails the run. The same check
 * tells the tests whether they may start brokers of their own through
 * kafka.sh (the broker-outage test does).
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

const START_TIMEOUT_MS = 5 * 60_000;

function runScript(command: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [KAFKA_SCRIPT, command], { encoding: 'utf8', timeout: START_TIMEOUT_MS });
  if (result.error) return { status: null, stdout: '', stderr: result.error.message };
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function brokersFrom(stdout: string): string | undefined {
  return /^KAFKA_BROKERS=(\S+)$/m.exec(stdout)?.[1];
}

/** Under CI a missing broker is a failure; elsewhere the tests are skipped, loudly. */
function skipOrFail(what: string, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`${what} cannot run under CI=true: ${reason}`);
  const line = '='.repeat(78);
  process.stderr.write(`\n${line}\n${what.toUpperCase()} SKIPPED: ${reason}\nInstall a JDK (17+) and Maven to run them.\n${line}\n\n`);
}

export default function setup(project: TestProject): (() => void) | undefined {
  const given = process.env.KAFKA_BROKERS?.trim();
  if (given) {
    // Fetching up front makes the jars ready for the tests that start their own broker.
    const fetch = runScript('fetch');
    const reason = fetch.status === 0 ? null : `scripts/kafka.sh fetch failed (exit ${fetch.status}): ${fetch.stderr.trim()}`;
    if (reason) skipOrFail('Kafka tests that start their own broker', reason);
    process.stderr.write(`kafka tests: using KAFKA_BROKERS=${given}\n`);
    project.provide('kafka', { brokers: given, skipReason: null, ownBrokerSkipReason: reason });
    return undefined;
  }

  const status = runScript('status');
  const running = status.status === 0 ? /KAFKA_BROKERS=(\S+)/.exec(status.stderr)?.[1] : undefined;
  if (running) {
    process.stderr.write(`kafka tests: using the broker already running at ${running}\n`);
    project.provide('kafka', { brokers: running, skipReason: null, ownBrokerSkipReason: null });
    return undefined;
  }

  process.stderr.write('kafka tests: starting a broker with scripts/kafka.sh start ...\n');
  const started = runScript('start');
  const brokers = brokersFrom(started.stdout);
  if (started.status === 3) {
    const reason = started.stderr.trim() || 'java or mvn not found';
    skipOrFail('Kafka tests', reason);
    project.provide('kafka', { brokers: null, skipReason: reason, ownBrokerSkipReason: reason });
    return undefined;
  }
  if (started.status !== 0 || !brokers) {
    // A broker that should start and does not is a failure everywhere.
    throw new Error(`scripts/kafka.sh start failed (exit ${started.status}):\n${started.stderr}`);
  }
  process.stderr.write(`kafka tests: broker ready at ${brokers}\n`);
  project.provide('kafka', { brokers, skipReason: null, ownBrokerSkipReason: null });
  return () => {
    const stopped = runScript('stop');
    if (stopped.status !== 0) process.stderr.write(`scripts/kafka.sh stop failed (exit ${stopped.status}):\n${stopped.stderr}\n`);
  };
}
