import { Kafka, logLevel } from 'kafkajs';
import { startScriptBroker, type ScriptBroker } from '../scripts/kafka-broker.js';

export { KafkaScriptError, TOOLS_MISSING } from '../scripts/kafka-broker.js';

export interface Broker extends ScriptBroker {
  createTopic(topic: string, partitions: number): Promise<void>;
}

/** A broker of the benchmark's own (scripts/kafka.sh, free ports, its own run directory): stopping it touches nobody else's. */
export async function startBroker(): Promise<Broker> {
  // Topics are created by the benchmark with their partitions, never by a producer's first send.
  const broker = await startScriptBroker({ autoCreate: false });
  return {
    ...broker,
    async createTopic(topic, partitions) {
      const admin = new Kafka({ clientId: 'audian-bridge-bench', brokers: broker.brokers.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true, timeout: 15_000 });
      } finally {
        await admin.disconnect();
      }
    },
  };
}
