import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type IHeaders, type ITopicConfig } from 'kafkajs';
import { startScriptBroker, type ScriptBroker } from '../setup/kafka.js';
import { waitFor } from './wait.js';

/** One message as read back from the broker, key, value and headers decoded as UTF-8. */
export interface ReadMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

/** A name no earlier run used: topics of one run never see another run's messages. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function client(brokers: string, clientId = 'audian-bridge-test') {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 } });
}

/** Topics created by `createTopics`, by brokers, for `deleteCreatedTopics`. */
const created = new Map<string, Set<string>>();

/** Creates the topics (`partitions` each, the cluster's default replication) and waits until they have leaders. */
export async function createTopics(brokers: string, topics: readonly string[], options: { partitions?: number; config?: Record<string, string> } = {}): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(options.config ?? {}).map(([name, value]) => ({ name, value }));
    const specs: ITopicConfig[] = topics.map((topic) => ({ topic, numPartitions: options.partitions ?? 3, configEntries }));
    await admin.createTopics({ topics: specs, waitForLeaders: true, timeout: 10_000 });
    const mine = created.get(brokers) ?? new Set<string>();
    for (const topic of topics) mine.add(topic);
    created.set(brokers, mine);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes what `createTopics` created on these brokers, so an existing cluster is left as it was. */
export async function deleteCreatedTopics(brokers: string): Promise<void> {
  const topics = [...(created.get(brokers) ?? [])];
  if (topics.length === 0) return;
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics, timeout: 10_000 });
    created.delete(brokers);
  } finally {
    await admin.disconnect();
  }
}

/** The topics the cluster has. */
export async function listTopics(brokers: string): Promise<string[]> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
  }
  return out;
}

/**
 * Reads the topics from the beginning with a kafkajs consumer (its own group)
 * until `done(messages)` holds, or fails after `timeoutMs` naming what it saw.
 */
export async function readTopics(
  brokers: string,
  topics: readonly string[],
  done: (messages: readonly ReadMessage[]) => boolean,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<ReadMessage[]> {
  const consumer = client(brokers).consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 1_000, allowAutoTopicCreation: false });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        messages.push({
          topic,
          partition,
          offset: Number(message.offset),
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          headers: decodeHeaders(message.headers),
        });
      },
    });
    await waitFor(() => done(messages), {
      timeoutMs: options.timeoutMs ?? 20_000,
      intervalMs: 50,
      what: `${options.what ?? 'messages'} (read ${messages.length} from ${topics.join(', ')})`,
    });
    return [...messages];
  } finally {
    await consumer.disconnect();
  }
}

/** The events (structured mode values) in `messages`, parsed. */
export function eventsOf(messages: readonly ReadMessage[]): Record<string, unknown>[] {
  return messages.map((message) => JSON.parse(message.value ?? 'null') as Record<string, unknown>);
}

/**
 * A broker of the test's own, started by scripts/kafka.sh on free ports with
 * its own run directory, so stopping it touches no other test's broker.
 */
export const startOwnBroker = startScriptBroker;
export type OwnBroker = ScriptBroker;
