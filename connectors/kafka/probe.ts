import { Kafka, logLevel, type Admin, type KafkaConfig, type PartitionMetadata } from 'kafkajs';
import { compileTemplate, type ProbeResult, type Template } from '../../src/sdk/index.js';
import { networkReason, withDeadline } from '../probe-reason.js';
import { rootCause } from './errors.js';

export interface KafkaProbeSetup {
  /** The connector's client config (brokers, TLS, SASL, timeouts). */
  readonly config: KafkaConfig;
  /** The connector's `topic` template. */
  readonly topic: string;
  /** The connector's `allow_auto_topic_creation`: a missing topic is then created at its first event. */
  readonly allowAutoCreate: boolean;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

export interface TopicMetadata {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
}

/**
 * The Kafka connector's probe: cluster metadata through an admin client of
 * its own (it never creates a topic, and sends no message), closed again
 * after each probe.
 * - A fixed topic: it exists (or the connector may have it created), and
 *   every partition has a leader among the live brokers.
 * - A templated topic (`audian.{type}`): which topics it names depends on
 *   the events, so every existing topic that matches the template is checked
 *   the same way; topics not created yet are not.
 * Within `connectionTimeoutMs + requestTimeoutMs`: one connection and one
 * metadata request. Each broker of `brokers` is tried once.
 */
export function createKafkaProbe(setup: KafkaProbeSetup): (signal: AbortSignal) => Promise<ProbeResult> {
  const brokers = Array.isArray(setup.config.brokers) ? setup.config.brokers : [];
  const label = `brokers ${brokers.join(',')}`;
  const template = compileTemplate(setup.topic);
  const kafka = new Kafka({
    ...setup.config,
    // The probe's outcome is reported by its caller; a broker that is down is the expected case here.
    logLevel: logLevel.NOTHING,
    retry: { retries: Math.max(0, brokers.length - 1), initialRetryTime: 100, maxRetryTime: 500 },
  });
  return (signal) =>
    withDeadline(label, setup.connectionTimeoutMs + setup.requestTimeoutMs, signal, async (both) => {
      const admin = kafka.admin();
      const close = () => void admin.disconnect().catch(() => undefined);
      both.addEventListener('abort', close, { once: true });
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        const live = new Set(cluster.brokers.map((broker) => broker.nodeId));
        const found = template.placeholders.length === 0 ? await fixedTopic(admin, setup.topic, setup.allowAutoCreate) : await templatedTopics(admin, template);
        if ('ok' in found) return found.ok ? { ok: true, detail: `${label}: ${found.detail ?? ''}` } : { ok: false, reason: `${label}: ${found.reason}` };
        const leaderless = found.topics.flatMap((topic) => withoutLeader(topic, live));
        if (leaderless.length > 0) return { ok: false, reason: `${label}: ${leaderless.join('; ')}` };
        return { ok: true, detail: `${label} (${live.size} live): ${found.detail}` };
      } catch (err) {
        if (both.aborted) throw err;
        return { ok: false, reason: `${label}: ${kafkaReason(err, setup.connectionTimeoutMs)}` };
      } finally {
        both.removeEventListener('abort', close);
        await admin.disconnect().catch(() => undefined);
      }
    });
}

type Found = { readonly topics: readonly TopicMetadata[]; readonly detail: string } | ProbeResult;

async function fixedTopic(admin: Admin, topic: string, allowAutoCreate: boolean): Promise<Found> {
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0]?.partitions.length ?? 0;
    return { topics, detail: `topic ${topic}: ${partitions} partition(s), each with a leader` };
  } catch (err) {
    const type = (rootCause(err) as { type?: unknown }).type;
    if (type === 'LEADER_NOT_AVAILABLE') return { ok: false, reason: `topic ${topic}: a partition has no leader (LEADER_NOT_AVAILABLE)` };
    if (type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
    if (allowAutoCreate) return { ok: true, detail: `topic ${topic} does not exist yet: it is created at the first event if the brokers allow it (auto.create.topics.enable)` };
    return { ok: false, reason: `topic ${topic} does not exist, and allow_auto_topic_creation is off: create the topic` };
  }
}

/** Every existing topic the template could name (placeholders match any text), internal topics aside. */
async function templatedTopics(admin: Admin, template: Template): Promise<Found> {
  const pattern = new RegExp(`^${template.pieces.map((piece) => (typeof piece === 'string' ? piece.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&') : '.+')).join('')}$`);
  const { topics } = await admin.fetchTopicMetadata();
  const matching = topics.filter((topic) => !topic.name.startsWith('__') && pattern.test(topic.name)).sort((a, b) => a.name.localeCompare(b.name));
  const names = matching.length > 5 ? `${matching.slice(0, 5).map((topic) => topic.name).join(', ')}, ...` : matching.map((topic) => topic.name).join(', ');
  const which = matching.length === 0 ? 'no existing topic matches it yet' : `${matching.length} existing topic(s) match it (${names}), each partition with a leader`;
  return { topics: matching, detail: `topic template ${template.source}: ${which}; topics not created yet are not checked` };
}

/** `topic X: partition(s) N without a leader`, for a topic with partitions that have no live leader (leader -1, or a broker gone). */
export function withoutLeader(topic: TopicMetadata, live: ReadonlySet<number>): string[] {
  const partitions = topic.partitions.filter((partition) => partition.leader < 0 || !live.has(partition.leader)).map((partition) => partition.partitionId);
  return partitions.length === 0 ? [] : [`topic ${topic.name}: partition(s) ${partitions.sort((a, b) => a - b).join(', ')} without a leader`];
}

/** A failed connection or request, in an operator's words. */
export function kafkaReason(err: unknown, connectionTimeoutMs: number): string {
  const root = rootCause(err) as { name?: unknown; message?: unknown; type?: unknown; broker?: unknown; code?: unknown };
  const message = typeof root?.message === 'string' ? root.message : String(root);
  if (root?.name === 'KafkaJSConnectionError' && message === 'Connection timeout') {
    return `connect timeout after ${connectionTimeoutMs} ms${typeof root.broker === 'string' ? ` at ${root.broker}` : ''}`;
  }
  if (root?.name === 'KafkaJSConnectionError' && typeof root.code === 'string') return networkReason(root);
  if (root?.name === 'KafkaJSSASLAuthenticationError') return `SASL authentication failed: ${message} (check the sasl settings)`;
  if (typeof root?.type === 'string') return `${root.type}: ${message}`;
  if (typeof root?.name === 'string' && root.name.startsWith('KafkaJS')) {
    const cause = networkReason(root);
    return cause === message ? `${root.name}: ${message}` : cause;
  }
  return networkReason(err);
}
