/**
 * The embedded default (DESIGN.md, "Configuration"): the receiver on 8080,
 * SQLite under ./data, every event to ./data/events.jsonl, transcripts under
 * ./data/transcripts (each call's summary finishes its transcript there).
 * Without AUDIAN_WEBHOOK_SECRET it cannot verify signatures, so it accepts
 * unsigned webhooks and the service warns at start.
 */
export function defaultConfigYaml(env: Readonly<Record<string, string | undefined>>): string {
  const verify = env.AUDIAN_WEBHOOK_SECRET
    ? '{ hmac: { secrets: ["${AUDIAN_WEBHOOK_SECRET}"], tolerance: 300s } }'
    : '{ none: true }';
  return `
server: { host: 0.0.0.0, port: "\${PORT:-8080}", body_limit: 1mb }
store: { path: ./data/bridge.db, dedupe_ttl: 7d }
sources:
  - name: main
    path: /webhooks/audian
    verify: ${verify}
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
