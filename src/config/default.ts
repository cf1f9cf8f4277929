/**
 * The embedded default (docs/configuration.md): SQLite under ./data, every
 * event to ./data/events.jsonl, transcripts under ./data/transcripts (each
 * call's summary finishes its transcript there). Every other setting is the
 * schema's default; only where it listens follows the environment: `PORT`, and without AUDIAN_WEBHOOK_SECRET it cannot verify
 * signatures, so it accepts unsigned webhooks on 127.0.0.1 only.
 */
export function defaultConfigYaml(env: Readonly<Record<string, string | undefined>>): string {
  const signed = Boolean(env.AUDIAN_WEBHOOK_SECRET);
  const listen = [...(signed ? [] : ['host: 127.0.0.1']), ...(env.PORT ? ['port: "${PORT}"'] : [])];
  return `${listen.length > 0 ? `server: { ${listen.join(', ')} }\n` : ''}sources:
  - name: main
    path: /webhooks/audian
    verify: ${signed ? '{ hmac: { secrets: ["${AUDIAN_WEBHOOK_SECRET}"] } }' : '{ none: true }'}
connectors:
  events: { type: file, path: ./data/events.jsonl }
  transcripts: { type: transcript, dir: ./data/transcripts }
routes:
  - name: all-events
    to: events
  - name: transcripts
    match: { type: [transcript.segment, call.completed, call.summary] }
    to: transcripts
`;
}
