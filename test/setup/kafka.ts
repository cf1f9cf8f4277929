import type { TestProject } from 'vitest/node';
import { KafkaScriptError, runKafkaScript, startScriptBroker, TOOLS_MISSING, type ScriptBroker } from '../../scripts/kafka-broker.js';
import { skipOrFail } from './skip-or-fail.js';

export { startScriptBroker, type ScriptBroker } from '../../scripts/kafka-broker.js';

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

/** What makes the skipped tests run. */
const REMEDY = 'Install a JDK (17+) and Maven to run them.';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.KAFKA_BROKERS?.trim();
  if (given) {
    // Fetching up front makes the jars ready for the tests that start their own broker.
    const fetch = await runKafkaScript('fetch');
    const reason = fetch.code === 0 ? null : `scripts/kafka.sh fetch failed (exit ${fetch.code}): ${fetch.stderr.trim()}`;
    if (reason) skipOrFail('Kafka tests that start their own broker', reason, REMEDY);
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
      skipOrFail('Kafka tests', reason, REMEDY);
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
