import { CompressionTypes, Kafka, Partitioners, logLevel, type KafkaConfig, type logCreator, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import { compileTemplate, permanent, type ConnectorDefinition, type SendResult } from '../../src/sdk/index.js';
import { buildRecord, type KafkaRecord, type RecordFormat } from './message.js';
import { createKafkaProbe } from './probe.js';
import { KAFKA, kafkaSchema, type KafkaOptions } from './schema.js';
import { createSender } from './sender.js';

export { kafkaSchema, type KafkaOptions } from './schema.js';

/**
 * Publishes canonical events to Kafka topics with one idempotent kafkajs
 * producer, as CloudEvents in structured or binary mode. Options, message
 * format, ordering and error handling: docs/connectors/kafka.md.
 */
export const kafkaConnector: ConnectorDefinition<typeof kafkaSchema> = {
  type: KAFKA,
  schema: kafkaSchema,
  // A backlog drains by batches, and most of a batch's cost is per batch: the
  // claim's walk over the calls, a produce request's round trip, a commit of
  // its outcomes. So batches are large; larger than this drained no faster,
  // and a larger claim holds the event loop longer (docs/benchmarks.md). Under
  // ingest a batch is what is due, which is far less.
  batchSize: 1024,
  // One call's events share a key, so a partition, and the sender keeps their
  // order within the batch (sender.ts): a batch may carry many of them. Not a
  // whole batch of one call: while the broker is down, every delivery a failed
  // batch carried is rescheduled and gets an attempt row, so 256 bounds what a
  // call's backlog writes per retry.
  maxPerCall: 256,
  create(name, options, context) {
    const logger = context.logger.child({ connector: name });
    if (options.sasl && !options.tls) logger.warn('kafka connector uses SASL without tls: credentials and events cross the network in clear text');
    const config = clientConfig(name, options, logger);
    const kafka = new Kafka(config);
    const format: RecordFormat = {
      topic: compileTemplate(options.topic),
      key: compileTemplate(options.key),
      mode: options.mode,
      maxMessageBytes: options.max_message_bytes,
    };
    const sender = createSender({
      createProducer: () =>
        kafka.producer({
          idempotent: options.idempotent,
          // KIP-98: one request in flight per connection keeps retries in order.
          // Sends are one at a time anyway (sender.ts).
          maxInFlightRequests: 1,
          allowAutoTopicCreation: options.allow_auto_topic_creation,
          // Murmur2 over the key, as Kafka's Java client: the same key lands in
          // the same partition whichever client produced it.
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: retryConfig(options),
        }),
      acks: options.acks,
      ackTimeoutMs: options.request_timeout,
      compression: options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      maxRequestBytes: options.max_message_bytes,
      logger,
    });

    return {
      name,
      // Four batches in flight: while one is produced, the next is claimed and the outcomes of the ones
      // before are written (a batch of 1,024 takes longer to settle than to send; docs/benchmarks.md).
      // The produce requests still go one at a time (sender.ts), and a call's next batch is claimed only
      // once its last one is settled, so a call's events keep their order.
      concurrency: 4,
      async start() {
        await sender.connect();
        logger.debug({ brokers: options.brokers, topic: options.topic, mode: options.mode }, 'kafka connector ready');
      },
      async send(batch, signal) {
        const results: SendResult[] = new Array(batch.length);
        const records: KafkaRecord[] = [];
        const positions: number[] = [];
        batch.forEach((delivery, index) => {
          const built = buildRecord(delivery.event, format);
          if (!built.ok) {
            results[index] = permanent(built.error);
            return;
          }
          records.push(built.record);
          positions.push(index);
        });
        if (records.length > 0) {
          const outcomes = await sender.send(records, signal);
          positions.forEach((position, index) => (results[position] = outcomes[index]!));
        }
        return results;
      },
      probe: createKafkaProbe({
        config,
        topic: options.topic,
        allowAutoCreate: options.allow_auto_topic_creation,
        connectionTimeoutMs: options.connection_timeout,
        requestTimeoutMs: options.request_timeout,
      }),
      async preview(event) {
        const built = buildRecord(event, format);
        if (!built.ok) return { outcome: 'fail', error: built.error };
        const { topic, key, headers, value } = built.record;
        return { outcome: 'send', target: `topic ${topic}`, message: { topic, key, headers, value } };
      },
      async stop() {
        await sender.close();
      },
    };
  },
};

function retryConfig(options: KafkaOptions) {
  return { retries: options.retries, initialRetryTime: 100, maxRetryTime: 2_000 };
}

function clientConfig(name: string, options: KafkaOptions, logger: Logger): KafkaConfig {
  const config: KafkaConfig = {
    clientId: options.client_id,
    brokers: options.brokers,
    connectionTimeout: options.connection_timeout,
    requestTimeout: options.request_timeout,
    retry: retryConfig(options),
    logLevel: logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: kafkaLogs(logger.child({ kafkajs: name })),
  };
  if (options.tls) {
    const tls: ConnectionOptions = { rejectUnauthorized: options.tls.reject_unauthorized };
    if (options.tls.ca) tls.ca = options.tls.ca;
    if (options.tls.cert) tls.cert = options.tls.cert;
    if (options.tls.key) tls.key = options.tls.key;
    if (options.tls.passphrase) tls.passphrase = options.tls.passphrase;
    if (options.tls.servername) tls.servername = options.tls.servername;
    config.ssl = tls;
  }
  if (options.sasl) {
    const { mechanism, username, password } = options.sasl;
    config.sasl = { mechanism, username, password } as SASLOptions;
  }
  return config;
}

/**
 * kafkajs's log lines into the service's logger. kafkajs logs every failed
 * attempt as an error; the dispatcher already reports each failed delivery,
 * so those become warnings here.
 */
function kafkaLogs(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
      // The retries are bounded on purpose: the outbox owns retrying, and a new
      // producer (new producer id) follows every failed request (sender.ts).
      if (message.startsWith('Limiting retries for the idempotent producer')) return logger.debug({ namespace, ...fields }, message);
      if (level === logLevel.ERROR || level === logLevel.WARN) return logger.warn({ namespace, ...fields }, message);
      if (level === logLevel.INFO) return logger.info({ namespace, ...fields }, message);
      return logger.debug({ namespace, ...fields }, message);
    };
}
