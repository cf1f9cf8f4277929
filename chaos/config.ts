import { writeFileSync } from 'node:fs';
import YAML from 'yaml';

/**
 * The bridge's config for a chaos run, and which sinks its routes name for each
 * webhook type: the checker expects a webhook's event at exactly those. The
 * reload fault flips `variant`: the Kafka route takes `call.answered` or not.
 */

export const SECRET = 'whsec_chaos';
export const WEBHOOK_PATH = '/webhooks/audian';
export const SOURCE = 'main';
export const KAFKA_TOPIC = 'chaos.events';
export const SLACK_TOKEN = 'xoxb-test-token';
/** Longer than any fault that refuses webhooks lasts, so the right missed-call answer is known. */
export const MISSED_CALL_GRACE_MS = 10_000;

export const SINK = { archive: 'archive', kafka: 'kafka', crm: 'crm', slack: 'slack', transcripts: 'transcripts' } as const;

export type Variant = 0 | 1;

const KAFKA_TYPES = ['call.initiated', 'call.answered', 'call.completed', 'call.failed', 'call.cancelled', 'call.missed', 'call.summary'];

function kafkaTypes(variant: Variant): string[] {
  return variant === 0 ? KAFKA_TYPES : KAFKA_TYPES.filter((type) => type !== 'call.answered');
}

/** The sinks whose copies of a webhook's event the checker reads (the transcript connector is read as documents). */
export function sinksFor(type: string, variant: Variant): string[] {
  return kafkaTypes(variant).includes(type) ? [SINK.archive, SINK.kafka] : [SINK.archive];
}

/**
 * The sinks a derived event's routes name. The CRM's stale guard may rightly skip
 * a summary revision older than one it already took, so only a call's latest must reach it.
 */
export function derivedSinksFor(type: string, latestRevision: boolean): string[] {
  if (type === 'call.missed') return [SINK.kafka, SINK.slack];
  if (type === 'call.summary') return latestRevision ? [SINK.kafka, SINK.crm] : [SINK.kafka];
  return [];
}

export interface ConfigInputs {
  readonly archivePath: string;
  readonly transcriptsDir: string;
  readonly port: number;
  readonly store: { path: string } | { url: string };
  readonly brokers: string;
  readonly crmUrl: string;
  readonly slackApiUrl: string;
}

export function writeConfig(path: string, inputs: ConfigInputs, variant: Variant): void {
  const config = {
    server: { host: '127.0.0.1', port: inputs.port, shutdown_timeout: '5s' },
    store: inputs.store,
    log: { level: 'info' },
    lifecycle: { missed_call_grace: `${MISSED_CALL_GRACE_MS / 1000}s` },
    // Short steps, so the time to resume after a fault is the bridge's, not a long backoff's; no delivery may die in a run.
    dispatch: { poll_interval: '200ms', retry_schedule: ['1s', '2s', '5s', '10s'], max_age: '1h', send_timeout: '5s' },
    sources: [{ name: SOURCE, path: WEBHOOK_PATH, verify: { hmac: { secrets: [SECRET] } } }],
    connectors: {
      [SINK.archive]: { type: 'file', path: inputs.archivePath },
      [SINK.transcripts]: { type: 'transcript', dir: inputs.transcriptsDir },
      [SINK.kafka]: { type: 'kafka', brokers: inputs.brokers, topic: KAFKA_TOPIC, acks: 'all' },
      [SINK.slack]: { type: 'slack', token: SLACK_TOKEN, channel: 'C0ALERTS', api_url: inputs.slackApiUrl, min_interval: '200ms' },
      [SINK.crm]: { type: 'http', url: `${inputs.crmUrl}/calls/{subject}`, method: 'PUT', stale_guard: true, timeout: '4s' },
    },
    routes: [
      { name: 'everything-to-archive', to: SINK.archive },
      { name: 'calls-to-kafka', match: { type: kafkaTypes(variant) }, to: SINK.kafka },
      { name: 'transcripts', match: { type: ['call.completed', 'call.summary'] }, to: SINK.transcripts },
      { name: 'missed-calls-to-slack', match: { type: 'call.missed' }, to: SINK.slack },
      { name: 'call-records-to-crm', match: { type: 'call.summary' }, to: SINK.crm },
    ],
  };
  writeFileSync(path, YAML.stringify(config));
}
