import { afterAll, beforeAll, expect, it } from 'vitest';
import { baseConfig, startBridge, type TestBridge } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { waitFor } from '../helpers/wait.js';

const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLS = 30;

let slack: FakeSlack;
let bridge: TestBridge;

beforeAll(async () => {
  slack = await startFakeSlack({ channels: { alerts: 'C0ALERTS' } });
  bridge = await startBridge((dir) =>
    baseConfig(dir, {
      lifecycle: { missed_call_grace: '200ms' },
      // Backoff alone would retry after 50 ms: a retry a second later can only come from Retry-After.
      dispatch: { retry_initial: '50ms', retry_max: '5s', poll_interval: '100ms', max_attempts: 12 },
      connectors: { slack: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: 0 } },
      routes: [{ name: 'missed-calls', match: { type: 'call.missed' }, to: 'slack' }],
    }),
  );
});
afterAll(async () => {
  await bridge?.stop();
  await slack?.close();
});

const callOf = (call: SlackCall) => /"call (burst-\d+) · /.exec(String(call.params.blocks))?.[1];

it('a burst of 30 missed calls with Slack answering 429 every few posts: all 30 arrive, none twice', async () => {
  // Every fourth chat.postMessage is refused with Retry-After: 1.
  slack.failWith(({ index }) => (index % 4 === 3 ? { kind: 'rate_limited', retryAfter: '1' } : undefined));
  const ids = Array.from({ length: CALLS }, (_, index) => `burst-${index + 1}`);
  await Promise.all(
    ids.map(async (callId, index) => {
      const at = T0 + index * 1_000;
      for (const body of [audianV2Calls.initiated(callId, { direction: 'inbound', from: `+1415555${String(index).padStart(4, '0')}`, to: '+14155550199' }, at), audianV2Calls.ended(callId, 'no_answer', at + 20_000)]) {
        const answer = await bridge.post(PATH, body);
        expect(answer.status).toBe(200);
      }
    }),
  );

  await waitFor(() => slack.messages.length >= CALLS, { timeoutMs: 45_000, what: `${CALLS} Slack messages (have ${slack.messages.length})` });
  const delivered = slack.messages.map((message) => /"call (burst-\d+) · /.exec(JSON.stringify(message.blocks))?.[1]);
  expect(new Set(delivered).size).toBe(CALLS);
  expect(delivered.slice().sort()).toEqual(ids.slice().sort());

  // Slack did refuse some posts, and each refused alert was retried through the outbox only after Retry-After.
  const limited = slack.posts().filter((call) => call.status === 429);
  expect(limited.length).toBeGreaterThanOrEqual(7);
  for (const refusal of limited) {
    const callId = callOf(refusal)!;
    const retry = slack.posts().find((call) => call.status === 200 && callOf(call) === callId && call.at > refusal.at);
    expect(retry, callId).toBeDefined();
    expect(retry!.at - refusal.at, callId).toBeGreaterThanOrEqual(950);
  }
  const slackRows = () =>
    bridge.db
      .prepare("SELECT e.subject, d.status, d.attempts FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.connector = 'slack'")
      .all() as { subject: string; status: string; attempts: number }[];
  // The last answer from Slack may still be on its way to the outbox.
  const rows = await waitFor(() => slackRows().every((row) => row.status === 'delivered') && slackRows(), { what: 'every delivery recorded as delivered' });
  expect(rows).toHaveLength(CALLS);
  // One attempt per post Slack answered other than with a 429: the client made no hidden retries of its own,
  // and a 429 holds the connector instead of spending the alert's attempt (docs/delivery.md, "Connector health").
  for (const row of rows) {
    expect(row.attempts, row.subject).toBe(slack.posts().filter((call) => callOf(call) === row.subject && call.status !== 429).length);
  }
  // Nothing more is on its way: the outbox is empty.
  expect(bridge.db.prepare("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'").get()).toEqual({ n: 0 });
  expect(slack.messages).toHaveLength(CALLS);
}, 60_000);
