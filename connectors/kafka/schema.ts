import { z } from 'zod';
import { boolean, byteSize, duration, integer, nonEmpty, pem, template, writtenForms } from '../../src/sdk/index.js';

/** `host:port`, or `[v6 address]:port`. */
const BROKER = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;

/**
 * One broker, a list of them, or one comma-separated string — so that
 * `brokers: ${KAFKA_BROKERS}` works with the usual `host1:9092,host2:9092`.
 */
function brokerList() {
  return z
    .union([nonEmpty(), z.array(nonEmpty()).min(1, 'give at least one broker')], {
      error: (issue) => `${issue.input === undefined ? 'required' : 'not a broker list'}: write host:port, a list of them, or one comma-separated string`,
    })
    .transform((value, ctx): string[] => {
      const list = (Array.isArray(value) ? value : [value]).flatMap((entry) => entry.split(',')).map((entry) => entry.trim());
      for (const broker of list) {
        const match = BROKER.exec(broker);
        if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
          ctx.addIssue({ code: 'custom', message: `"${broker}" is not a broker address (write host:port, e.g. kafka-1:9092)` });
          return z.NEVER;
        }
      }
      return list;
    });
}

/** Node's TLS options for the broker connections; `tls: true` is `tls: {}`: the system's CAs. */
const tlsSchema = z
  .preprocess(
    (value) => (value === true || value === 'true' ? {} : value === false || value === 'false' ? undefined : value),
    z
    .strictObject({
      /** CA certificate(s) that signed the brokers' certificates. */
      ca: z
        .preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(pem()).min(1))
        .register(writtenForms, { alsoWritten: [{ type: 'string', minLength: 1 }] })
        .optional(),
      /** Client certificate and key, for clusters that authenticate clients by TLS. */
      cert: pem().optional(),
      key: pem().optional(),
      passphrase: nonEmpty().optional(),
      /** Name to check the brokers' certificates against, when it differs from the address. */
      servername: nonEmpty().optional(),
      /** Only ever false against a test cluster: it accepts any certificate. */
      reject_unauthorized: boolean().default(true),
    })
    .superRefine((value, ctx) => {
      if ((value.cert === undefined) !== (value.key === undefined)) {
        ctx.addIssue({ code: 'custom', path: [value.cert === undefined ? 'cert' : 'key'], message: 'give both cert and key, or neither' });
      }
    })
    .optional(),
  )
  .register(writtenForms, { alsoWritten: [{ enum: [true, 'true', false, 'false'] }] })
  .optional();

const saslSchema = z.strictObject({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  username: nonEmpty(),
  password: nonEmpty(),
});

/** Kafka's own words for acks, and the numbers behind them. */
const ACKS = { all: -1, '-1': -1, leader: 1, '1': 1, none: 0, '0': 0 } as const;

/**
 * Options of the `kafka` connector (docs/connectors/kafka.md): `brokers`,
 * `topic`, `key` and `mode` say where and how events go; the rest tune the
 * producer.
 */
export const KAFKA = 'kafka';

export const kafkaSchema = z
  .strictObject({
    type: z.literal(KAFKA),
    brokers: brokerList(),
    client_id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-"').default('audian-bridge'),
    /** Topic template, e.g. `audian.calls` or `audian.{type}`. */
    topic: template(),
    /** Message key template; the call id by default, so one call's events share a partition and keep their order. */
    key: template().default('{subject}'),
    /** CloudEvents Kafka protocol binding content mode. */
    mode: z.enum(['structured', 'binary']).default('structured'),
    acks: z
      .preprocess((value) => (typeof value === 'number' ? String(value) : value), z.enum(['all', 'leader', 'none', '-1', '1', '0']))
      .register(writtenForms, { alsoWritten: [{ enum: [-1, 1, 0] }] })
      .default('all')
      .transform((value) => ACKS[value]),
    /** Producer id + sequence numbers, so the producer's own retries never duplicate or reorder a message. */
    idempotent: boolean().default(true),
    /** kafkajs itself implements gzip only; snappy, lz4 and zstd would need extra codec packages. */
    compression: z.enum(['none', 'gzip'], 'one of none, gzip (snappy, lz4 and zstd are not built in)').default('none'),
    /** Let the broker create a missing topic when its `auto.create.topics.enable` allows it. */
    allow_auto_topic_creation: boolean().default(true),
    /**
     * The largest message sent (key + value + headers, before compression);
     * larger ones are dead-lettered without a round trip. Also the most
     * message bytes put into one produce request. Keep it at or under the
     * topics' `max.message.bytes` (broker default 1048588).
     */
    max_message_bytes: byteSize().default(1_000_000),
    connection_timeout: duration().default(3_000),
    request_timeout: duration().default(10_000),
    /**
     * Quick retries inside one send, before the failure goes back to the
     * outbox (which owns longer retries, backoff and dead-lettering).
     */
    retries: integer(1, 20).default(2),
    sasl: saslSchema.optional(),
    tls: tlsSchema,
  })
  .superRefine((value, ctx) => {
    if (value.idempotent && value.acks !== -1) {
      ctx.addIssue({ code: 'custom', path: ['acks'], message: 'the idempotent producer needs acks: all (or set idempotent: false)' });
    }
  });

export type KafkaOptions = z.output<typeof kafkaSchema>;
