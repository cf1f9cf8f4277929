import type { ConnectorFault } from '../../src/sdk/index.js';

/**
 * How far a failed produce reaches, which decides what the sender does next:
 * - `connection`: the cluster or the producer (broker down, timeout, bad
 *   credentials, producer state lost): every message of the request shares it.
 * - `topic`: one topic of the request (missing, not authorized, leader moving):
 *   the other topics may well go through, so they are sent on their own.
 * - `message`: one message of the batch (too large, rejected record): the
 *   others may go through, so each is sent on its own.
 */
export type FailureScope = 'connection' | 'topic' | 'message';

export interface KafkaFailure {
  readonly retriable: boolean;
  readonly scope: FailureScope;
  /** Set when no broker could be reached or answered in time: the connector's failure, not the messages'. */
  readonly fault?: ConnectorFault;
  /** The Kafka error name (`UNKNOWN_TOPIC_OR_PARTITION`) or the kafkajs error class. */
  readonly kind: string;
  readonly error: string;
}

interface ProtocolRule {
  readonly retriable: boolean;
  readonly scope: FailureScope;
  /** How to fix it, appended to the message. */
  readonly hint?: string;
}

/**
 * Kafka protocol errors that need a decision other than kafkajs's `retriable`
 * flag with topic scope. Codes and names: Kafka's `Errors.java`.
 */
const PROTOCOL_RULES: Readonly<Record<string, ProtocolRule>> = {
  // Kafka calls it retriable (metadata may lag behind a topic's creation), but
  // kafkajs has already retried it: the topic is missing and auto-creation is off.
  UNKNOWN_TOPIC_OR_PARTITION: {
    retriable: false,
    scope: 'topic',
    hint: 'create the topic, or let it be created (broker auto.create.topics.enable and connector allow_auto_topic_creation)',
  },
  INVALID_TOPIC_EXCEPTION: { retriable: false, scope: 'topic', hint: 'check the topic template' },
  TOPIC_AUTHORIZATION_FAILED: { retriable: false, scope: 'topic', hint: "grant the connector's principal WRITE and DESCRIBE on the topic" },
  POLICY_VIOLATION: { retriable: false, scope: 'topic' },
  CLUSTER_AUTHORIZATION_FAILED: {
    retriable: false,
    scope: 'connection',
    hint: "grant the connector's principal IDEMPOTENT_WRITE on the cluster, or set idempotent: false",
  },
  MESSAGE_TOO_LARGE: {
    retriable: false,
    scope: 'message',
    hint: "raise the topic's max.message.bytes, lower the connector's max_message_bytes to match it, or route this event elsewhere",
  },
  RECORD_LIST_TOO_LARGE: { retriable: false, scope: 'message', hint: "lower the connector's max_message_bytes" },
  INVALID_RECORD: { retriable: false, scope: 'message' },
  CORRUPT_MESSAGE: { retriable: true, scope: 'message' },
  // The broker and this producer disagree on the producer id or its sequence
  // numbers (the broker lost the producer's state, or a failed request left
  // kafkajs's numbers behind the broker's). The sender starts a new producer;
  // the messages themselves are fine.
  OUT_OF_ORDER_SEQUENCE_NUMBER: { retriable: true, scope: 'connection' },
  DUPLICATE_SEQUENCE_NUMBER: { retriable: true, scope: 'connection' },
  INVALID_PRODUCER_EPOCH: { retriable: true, scope: 'connection' },
  INVALID_PRODUCER_ID_MAPPING: { retriable: true, scope: 'connection' },
  UNKNOWN_PRODUCER_ID: { retriable: true, scope: 'connection' },
  // Credentials are the connector's, not the event's: once they are fixed the
  // waiting deliveries go through without a replay.
  SASL_AUTHENTICATION_FAILED: { retriable: true, scope: 'connection', hint: 'check the sasl settings' },
  ILLEGAL_SASL_STATE: { retriable: true, scope: 'connection' },
  UNSUPPORTED_SASL_MECHANISM: { retriable: true, scope: 'connection', hint: 'the brokers do not offer this sasl mechanism' },
};

/**
 * What says the cluster cannot be reached: kafkajs's connection, timeout and
 * broker-lookup classes, the broker's own "not available" answers, and a
 * socket's refusal or reset seen bare. A protocol error that concerns one
 * topic, the producer's state or the credentials is not one.
 */
const UNREACHABLE_KINDS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'REQUEST_TIMED_OUT',
]);
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE']);

interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
}

/**
 * The error that caused it all: kafkajs wraps the broker's error in
 * `KafkaJSNumberOfRetriesExceeded` / `KafkaJSNonRetriableError` (via `cause`),
 * sometimes twice.
 */
export function rootCause(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 10; depth++) {
    const cause = (current as ErrorLike | null)?.cause;
    if (cause === undefined || cause === null || cause === current) break;
    current = cause;
  }
  return current;
}

/**
 * Classifies what kafkajs threw from a send. Errors without a protocol type
 * (refused or dropped connections, timeouts, no broker reachable) concern the
 * whole cluster and are retriable; protocol errors follow PROTOCOL_RULES,
 * else kafkajs's `retriable` flag, scoped to the topic.
 */
export function classifyKafkaError(err: unknown): KafkaFailure {
  const root = rootCause(err) as ErrorLike | null;
  const message = describe(root, err);
  const type = typeof root?.type === 'string' ? root.type : undefined;
  if (type !== undefined && typeof root?.code === 'number') {
    const rule = PROTOCOL_RULES[type];
    if (rule) return { retriable: rule.retriable, scope: rule.scope, kind: type, error: rule.hint ? `${type}: ${message} (${rule.hint})` : `${type}: ${message}` };
    if (UNREACHABLE_KINDS.has(type)) return { retriable: true, scope: 'connection', kind: type, error: `${type}: ${message}`, fault: 'unreachable' };
    return { retriable: root.retriable !== false, scope: 'topic', kind: type, error: `${type}: ${message}` };
  }
  const kind = typeof root?.name === 'string' ? root.name : 'Error';
  if (kind === 'KafkaJSSASLAuthenticationError') {
    return { retriable: true, scope: 'connection', kind, error: `${kind}: ${message} (check the sasl settings)` };
  }
  const unreachable = UNREACHABLE_KINDS.has(kind) || (typeof root?.code === 'string' && UNREACHABLE_CODES.has(root.code));
  return { retriable: true, scope: 'connection', kind, error: `${kind}: ${message}`, ...(unreachable ? { fault: 'unreachable' as const } : {}) };
}

function describe(root: ErrorLike | null, outer: unknown): string {
  const text = typeof root?.message === 'string' && root.message !== '' ? root.message : String(root);
  const retries = (outer as { retryCount?: unknown } | null)?.retryCount;
  return typeof retries === 'number' && retries > 0 ? `${text} (after ${retries} retries)` : text;
}
