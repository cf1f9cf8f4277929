import type { CanonicalEvent, Template } from '../../src/sdk/index.js';

/** One event as a Kafka record, before kafkajs sees it. */
export interface KafkaRecord {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Key + value + header bytes: what counts against `max_message_bytes`. */
  readonly size: number;
}

export interface RecordFormat {
  readonly topic: Template;
  readonly key: Template;
  readonly mode: 'structured' | 'binary';
  readonly maxMessageBytes: number;
}

/** Kafka's rule for topic names (`Topic.validate`): 1-249 of these characters, not `.` or `..`. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** CloudEvents Kafka protocol binding, 3.1: the structured mode's content type. */
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=UTF-8';

/**
 * Builds the record for one event, or says why it can never be sent (a
 * permanent failure: no retry changes the event or the template).
 *
 * - structured mode: the whole event as the JSON value, `content-type:
 *   application/cloudevents+json` (binding, 3.1).
 * - binary mode: `data` as the value, `content-type` from `datacontenttype`,
 *   and every other attribute, extensions included, as a `ce_<name>` header
 *   (binding, 3.2). Booleans become `true`/`false`, the CloudEvents string form.
 *
 * The key is the rendered key template; an event the template has no value
 * for (one that concerns no call, for the default `{subject}`) is keyed by its
 * id, so its partition is still fixed and kafkajs's retries resend it to the
 * same partition.
 */
export function buildRecord(event: CanonicalEvent, format: RecordFormat): { ok: true; record: KafkaRecord } | { ok: false; error: string } {
  const topic = format.topic.render(event);
  if (!topic.ok) return { ok: false, error: `topic template "${format.topic.source}" has no value for {${topic.missing.join('}, {')}}` };
  if (!TOPIC_NAME.test(topic.value) || topic.value === '.' || topic.value === '..') {
    return { ok: false, error: `"${topic.value}" is not a valid Kafka topic name (letters, digits, ".", "_", "-"; at most 249)` };
  }
  const rendered = format.key.render(event);
  const key = rendered.ok && rendered.value !== '' ? rendered.value : event.id;

  let value: string;
  const headers: Record<string, string> = {};
  if (format.mode === 'structured') {
    value = JSON.stringify(event);
    headers['content-type'] = STRUCTURED_CONTENT_TYPE;
  } else {
    value = JSON.stringify(event.data ?? null);
    for (const [name, attribute] of Object.entries(event)) {
      if (name === 'data' || name === 'datacontenttype' || attribute === undefined || attribute === null) continue;
      headers[`ce_${name}`] = typeof attribute === 'string' ? attribute : JSON.stringify(attribute);
    }
    headers['content-type'] = event.datacontenttype;
  }

  let size = Buffer.byteLength(key) + Buffer.byteLength(value);
  for (const [name, header] of Object.entries(headers)) size += Buffer.byteLength(name) + Buffer.byteLength(header);
  if (size > format.maxMessageBytes) {
    return {
      ok: false,
      error: `message for event ${event.id} is ${size} bytes, over max_message_bytes (${format.maxMessageBytes}); raise it together with the topic's max.message.bytes, or route this event elsewhere`,
    };
  }
  return { ok: true, record: { topic: topic.value, key, value, headers, size } };
}
