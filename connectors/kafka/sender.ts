import type { Logger } from 'pino';
import { permanent, retriable, sent, type SendResult } from '../../src/sdk/index.js';
import { classifyKafkaError, type KafkaFailure } from './errors.js';
import type { KafkaRecord } from './message.js';

/** The part of a kafkajs producer the sender uses; tests stand in for it. */
export interface ProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(batch: {
    topicMessages: { topic: string; messages: { key: string; value: string; headers: Record<string, string> }[] }[];
    acks: number;
    timeout: number;
    compression: number;
  }): Promise<unknown>;
}

export interface SenderOptions {
  /** Makes a new, unconnected producer. */
  readonly createProducer: () => ProducerLike;
  readonly acks: number;
  /** How long the broker may take to gather the acks, in ms. */
  readonly ackTimeoutMs: number;
  /** kafkajs's CompressionTypes value. */
  readonly compression: number;
  /** Most message bytes in one request. */
  readonly maxRequestBytes: number;
  readonly logger: Logger;
}

export interface Sender {
  /** Connects, unless already connected. */
  connect(): Promise<void>;
  /** Sends the records; one result per record, in order. */
  send(records: readonly KafkaRecord[], signal: AbortSignal): Promise<SendResult[]>;
  /** Waits for the send in flight, then disconnects. */
  close(): Promise<void>;
}

/**
 * Sends batches of records through one producer and maps kafkajs's
 * all-or-nothing answers back to each record.
 *
 * A batch goes out as one `sendBatch` (one produce request per broker). If it
 * fails for one topic or one message, the topics of the batch are sent one by
 * one, and the messages of a topic that failed for one message are sent one by
 * one, so a permanent failure dead-letters only what it concerns. A failure of
 * the connection fails the whole batch, retriable.
 *
 * A batch may carry several events of one call, in order. Once a record fails
 * retriably, the later records with its topic and key (its partition) are not
 * sent and fail retriably too, so a retry never lets a later event of a call
 * overtake an earlier one. A permanent failure holds nothing back: the dead
 * delivery no longer blocks its call, as in the outbox.
 *
 * The producer is kept for the life of the process, with one exception: after
 * any failed request the next request goes through a new producer. kafkajs
 * assigns an idempotent producer's sequence numbers before a request and
 * takes them back when it fails, even where the broker appended some
 * partitions of it (kafkajs fails the whole request on one partition's
 * error). Reusing those numbers for other messages would make the broker
 * reject them (OUT_OF_ORDER_SEQUENCE_NUMBER) or, worse, drop them as
 * duplicates of what it already has. A new producer gets a new producer id and
 * fresh numbers; what the broker did append is sent again — at-least-once,
 * which every consumer already expects (docs/delivery.md).
 */
export function createSender(options: SenderOptions): Sender {
  const { logger } = options;
  const slot = createProducerSlot(options.createProducer, logger);
  /** Sends run one at a time; the dispatcher may start a new one while an abandoned one still runs. */
  let tail: Promise<unknown> = Promise.resolve();

  /** One request through the live producer; a failed one retires the producer. */
  async function produce(indexes: readonly number[], records: readonly KafkaRecord[]): Promise<void> {
    try {
      const live = await slot.ready();
      await live.sendBatch({ topicMessages: groupByTopic(indexes, records), acks: options.acks, timeout: options.ackTimeoutMs, compression: options.compression });
    } catch (err) {
      slot.retire();
      throw err;
    }
  }

  async function sendAll(records: readonly KafkaRecord[], signal: AbortSignal): Promise<SendResult[]> {
    const run: Run = { records, results: new Array(records.length), signal, held: new Set<string>(), produce: (indexes) => produce(indexes, records), logger };
    await eachUntilDisconnected(
      chunkBySize(records, options.maxRequestBytes),
      (chunk) => attempt(run, chunk),
      run.results,
    );
    return run.results;
  }

  return {
    async connect() {
      await slot.ready();
    },
    send(records, signal) {
      const run = tail.then(() => sendAll(records, signal));
      tail = run.catch(() => undefined);
      return run;
    },
    async close() {
      await tail;
      await slot.close();
    },
  };
}

/** The producer requests go through: kept while they succeed, replaced by a new one after one fails (see createSender). */
export interface ProducerSlot {
  /** The producer to send through, connecting a new one when there is none or the last one is retired. */
  ready(): Promise<ProducerLike>;
  /** After a failed request: the next `ready` disconnects this producer and connects a new one. */
  retire(): void;
  /** Waits for a connect in progress, then disconnects. */
  close(): Promise<void>;
}

export function createProducerSlot(createProducer: () => ProducerLike, logger: Logger): ProducerSlot {
  let producer: ProducerLike | undefined;
  let connecting: Promise<ProducerLike> | undefined;
  /** Set after a failed request: the next one needs a new producer. */
  let stale = false;

  async function replace(): Promise<ProducerLike> {
    const old = producer;
    producer = undefined;
    stale = false;
    if (old) await old.disconnect().catch((err: unknown) => logger.debug({ err }, 'disconnecting the previous producer failed'));
    const fresh = createProducer();
    try {
      await fresh.connect();
    } catch (err) {
      await fresh.disconnect().catch(() => undefined);
      throw err;
    }
    producer = fresh;
    return fresh;
  }

  return {
    async ready() {
      if (producer && !stale) return producer;
      connecting ??= replace().finally(() => {
        connecting = undefined;
      });
      return connecting;
    },
    retire() {
      stale = true;
    },
    async close() {
      await connecting?.catch(() => undefined);
      const last = producer;
      producer = undefined;
      await last?.disconnect();
    },
  };
}

/** One send: its records, their results as they are known, and the partitions (topic and key) that had a retriable failure. */
interface Run {
  readonly records: readonly KafkaRecord[];
  readonly results: SendResult[];
  readonly signal: AbortSignal;
  readonly held: Set<string>;
  /** Sends the records at these indexes in one request. */
  readonly produce: (indexes: readonly number[]) => Promise<void>;
  readonly logger: Logger;
}

/**
 * Sends one request's worth of records; fills `run.results` at their indexes;
 * returns the failure, if any. A failure for one topic or one message of
 * several is tried again by topic, then by message.
 */
async function attempt(run: Run, candidates: readonly number[]): Promise<KafkaFailure | undefined> {
  const { records, results, signal } = run;
  const indexes = candidates.filter((index) => {
    if (!run.held.has(partitionOf(records[index]!))) return true;
    results[index] = retriable(HELD_BACK);
    return false;
  });
  if (indexes.length === 0) return undefined;
  if (signal.aborted) {
    const failure: KafkaFailure = { retriable: true, scope: 'connection', kind: 'Aborted', error: `send aborted: ${String((signal.reason as Error | undefined)?.message ?? signal.reason)}` };
    settle(run, indexes, failure);
    return failure;
  }
  try {
    await run.produce(indexes);
    for (const index of indexes) results[index] = sent;
    return undefined;
  } catch (err) {
    const failure = classifyKafkaError(err);
    const topics = new Set(indexes.map((index) => records[index]!.topic));
    run.logger.debug({ err, scope: failure.scope, retriable: failure.retriable, messages: indexes.length, topics: [...topics] }, 'produce request failed');
    const groups = smallerRequests(failure, indexes, topics, records);
    if (groups) return eachUntilDisconnected(groups, (group) => attempt(run, group), results);
    const topic = topics.size === 1 ? `topic "${[...topics][0]}": ` : '';
    settle(run, indexes, { ...failure, error: failure.scope === 'connection' ? failure.error : `${topic}${failure.error}` });
    return failure;
  }
}

/** Fails the records at `indexes` with `failure`; a retriable one holds back their partitions for the rest of the send. */
function settle(run: Run, indexes: readonly number[], failure: KafkaFailure): void {
  const result = toResult(failure);
  for (const index of indexes) run.results[index] = result;
  if (failure.retriable) for (const index of indexes) run.held.add(partitionOf(run.records[index]!));
}

/**
 * After a request failed for one topic or one message, the requests to try
 * instead: one per topic, or one per message of a single topic. None when the
 * failure concerns them all (the connection, or the only topic or message).
 */
function smallerRequests(failure: KafkaFailure, indexes: readonly number[], topics: ReadonlySet<string>, records: readonly KafkaRecord[]): number[][] | undefined {
  if (failure.scope !== 'connection' && topics.size > 1) return [...topics].map((topic) => indexes.filter((index) => records[index]!.topic === topic));
  if (failure.scope === 'message' && indexes.length > 1) return indexes.map((index) => [index]);
  return undefined;
}

const HELD_BACK = 'not sent: an earlier event with the same topic and key failed in this batch';

/** Records with the same topic and key go to one partition, where their order is kept. */
function partitionOf(record: KafkaRecord): string {
  return `${record.topic}\u0000${record.key}`;
}

function toResult(failure: KafkaFailure): SendResult {
  return failure.retriable ? retriable(failure.error, undefined, failure.fault) : permanent(failure.error);
}

/**
 * Runs `task` over the groups of record indexes in order. Once one fails for
 * the connection, the groups after it get that failure in `results` without a
 * try (they would only wait for the same timeout), and it is returned.
 */
async function eachUntilDisconnected(
  groups: readonly (readonly number[])[],
  task: (group: readonly number[]) => Promise<KafkaFailure | undefined>,
  results: SendResult[],
): Promise<KafkaFailure | undefined> {
  let cut: KafkaFailure | undefined;
  for (const group of groups) {
    if (cut) {
      for (const index of group) results[index] = toResult(cut);
      continue;
    }
    const failure = await task(group);
    if (failure?.scope === 'connection') cut = failure;
  }
  return cut;
}

function groupByTopic(indexes: readonly number[], records: readonly KafkaRecord[]) {
  const topics = new Map<string, { key: string; value: string; headers: Record<string, string> }[]>();
  for (const index of indexes) {
    const record = records[index]!;
    let messages = topics.get(record.topic);
    if (!messages) topics.set(record.topic, (messages = []));
    messages.push({ key: record.key, value: record.value, headers: { ...record.headers } });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** Indexes of the records, split so no request carries more than `maxBytes` of messages. */
export function chunkBySize(records: readonly KafkaRecord[], maxBytes: number): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  records.forEach((record, index) => {
    if (current.length > 0 && bytes + record.size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += record.size;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}
