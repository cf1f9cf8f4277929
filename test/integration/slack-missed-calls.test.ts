import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, startBridge, type TestBridge } from '../helpers/bridge.js';
import { audianHooksCalls, audianV2Calls, voiceCalls, type CallPayloads, type CallParties, type Ending } from '../helpers/call-payloads.js';
import { startFakeSlack, type FakeSlack, type PostedMessage } from '../helpers/fake-slack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 4's acceptance tests, end to end: signed webhooks into the running
 * bridge, the call lifecycle deciding after the grace period, the outbox and
 * dispatcher, and the Slack connector posting to a fake Slack Web API.
 */
const PATH = '/webhooks/audian';
const GRACE_MS = 300;
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLER: CallParties = { direction: 'inbound', from: '+14155550100', fromName: 'Jane Doe', to: '+14155550199', tags: { campaign: 'winter_sale' } };

let slack: FakeSlack;
let bridge: TestBridge;
let sequence = 0;

beforeAll(async () => {
  slack = await startFakeSlack({ channels: { alerts: 'C0ALERTS' } });
  bridge = await startBridge((dir) =>
    baseConfig(dir, {
      lifecycle: { missed_call_grace: `${GRACE_MS}ms` },
      connectors: {
        slack: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: 0 },
      },
      routes: [{ name: 'missed-calls', match: { type: 'call.missed' }, to: 'slack' }],
    }),
  );
});
afterAll(async () => {
  await bridge?.stop();
  await slack?.close();
});

async function post(...bodies: Record<string, unknown>[]): Promise<void> {
  for (const body of bodies) {
    const answer = await bridge.post(PATH, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  }
}

/** The Slack messages about one call: its id is in every message's context line. */
function messagesFor(callId: string): PostedMessage[] {
  return slack.messages.filter((message) => JSON.stringify(message.blocks).includes(`"call ${callId} · event `));
}

function callRow(callId: string) {
  return bridge.db.prepare('SELECT missed, missed_check_at AS checkAt, answered FROM calls WHERE call_id = ?').get(callId) as
    | { missed: string | null; checkAt: number | null; answered: number }
    | undefined;
}

function slackDeliveriesFor(callId: string): number {
  return (bridge.db
    .prepare("SELECT COUNT(*) AS n FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.subject = ? AND d.connector = 'slack'")
    .get(callId) as { n: number }).n;
}

function nextCallId(calls: CallPayloads, what: string): string {
  return `${calls.dialect.replace('.', '-')}-${what}-${++sequence}`;
}

/** A missed inbound call whose alert proves the watcher has run past everything posted before it. */
async function sentinel(calls: CallPayloads): Promise<void> {
  const callId = nextCallId(calls, 'sentinel');
  await post(calls.initiated(callId, CALLER, T0), calls.ended(callId, 'completed', T0 + 10_000));
  await waitFor(() => messagesFor(callId).length === 1, { what: `the sentinel alert for ${callId}` });
}

/**
 * No alert, checked without sleeping: the call's row is decided "not missed",
 * and a missed call that ended later has already been alerted (the watcher
 * decides due calls in order, and the dispatcher sends in order).
 */
async function expectNoAlert(calls: CallPayloads, callId: string): Promise<void> {
  await waitFor(() => callRow(callId)?.missed ?? undefined, { what: `the missed-call decision for ${callId}` });
  expect(callRow(callId)).toMatchObject({ missed: 'not_missed', checkAt: null });
  await sentinel(calls);
  expect(messagesFor(callId)).toEqual([]);
  expect(slackDeliveriesFor(callId)).toBe(0);
}

const field = (label: string, value: string) => ({ type: 'mrkdwn', text: `*${label}*\n${value}`, verbatim: true });

interface DialectCase {
  readonly calls: CallPayloads;
  /** How the missed call ends, in this dialect's own terms. */
  readonly ending: Ending;
  /** The caller as shown: this dialect's payloads name the caller or not. */
  readonly caller: string;
  readonly reason: string;
}

const CASES: readonly DialectCase[] = [
  { calls: audianV2Calls, ending: 'no_answer', caller: 'Jane Doe\n+14155550100', reason: 'No answer' },
  // seed 004 has no caller name and no failure events: call_ended without call_answered.
  { calls: voiceCalls, ending: 'completed', caller: '+14155550100', reason: 'Not answered' },
  // channel_destroy with a normal hangup but no channel_answer before it.
  { calls: audianHooksCalls, ending: 'completed', caller: 'Jane Doe\n+14155550100', reason: 'Not answered' },
];

describe.each(CASES)('$calls.dialect', ({ calls, ending, caller, reason }) => {
  it('a missed inbound call produces exactly one Slack message', async () => {
    const callId = nextCallId(calls, 'missed');
    const ended = calls.ended(callId, ending, T0 + 25_000);
    await post(calls.initiated(callId, CALLER, T0), ended);
    // The provider retries the ending webhook: deduped, still one alert.
    const retry = await bridge.post(PATH, ended);
    expect(retry).toMatchObject({ status: 200, body: { duplicate: true } });

    const [message] = await waitFor(() => messagesFor(callId).length > 0 && messagesFor(callId), { what: `the alert for ${callId}` });
    const missedId = (bridge.db.prepare("SELECT id FROM events WHERE subject = ? AND type = 'call.missed'").get(callId) as { id: string }).id;
    expect(message!.channel).toBe('C0ALERTS');
    expect(message!.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'Missed call', emoji: true } },
      {
        type: 'section',
        fields: [
          field('Caller', caller),
          field('Number called', '+14155550199'),
          field('Time', '2026-02-04 10:30:00 UTC'),
          field('Reason', reason),
          field('Ring time', '25 s'),
          // Only audian.v2 payloads carry tags (seed 003).
          ...(calls.dialect === 'audian.v2' ? [field('Tags', 'campaign: winter_sale')] : []),
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `call ${callId} · event ${missedId}`, verbatim: true }] },
    ]);
    expect(missedId.endsWith('.missed')).toBe(true);

    await sentinel(calls);
    expect(messagesFor(callId)).toHaveLength(1);
    expect(callRow(callId)).toMatchObject({ missed: 'emitted', checkAt: null });
  });

  it('an answered call produces none', async () => {
    const callId = nextCallId(calls, 'answered');
    await post(calls.initiated(callId, CALLER, T0), calls.answered(callId, T0 + 4_000), calls.ended(callId, ending, T0 + 60_000));
    await expectNoAlert(calls, callId);
  });

  it('an outbound unanswered call produces none', async () => {
    const callId = nextCallId(calls, 'outbound');
    await post(calls.initiated(callId, { ...CALLER, direction: 'outbound' }, T0), calls.ended(callId, ending, T0 + 30_000));
    await expectNoAlert(calls, callId);
  });

  it('a call whose answer arrives late, inside the grace period, produces none', async () => {
    const callId = nextCallId(calls, 'late');
    await post(calls.initiated(callId, CALLER, T0), calls.ended(callId, ending, T0 + 60_000));
    const pending = callRow(callId);
    expect(pending).toMatchObject({ missed: null, answered: 0 });
    expect(pending!.checkAt).toBeGreaterThan(Date.now());
    await post(calls.answered(callId, T0 + 3_000));
    // Precondition of this test: the answer was in before the grace period ran out.
    expect(Date.now()).toBeLessThan(pending!.checkAt!);
    await expectNoAlert(calls, callId);
  });
});

describe('injection through caller names', () => {
  const EVIL = '<!channel> <https://evil.example|click here> <@U0ADMIN> & co';
  const ESCAPED = '&lt;!channel&gt; &lt;https://evil.example|click here&gt; &lt;@U0ADMIN&gt; &amp; co';

  it.each([audianV2Calls, audianHooksCalls])('$dialect: mentions and links in the caller name are posted as text', async (calls) => {
    const callId = nextCallId(calls, 'evil');
    await post(calls.initiated(callId, { ...CALLER, fromName: EVIL, tags: { note: '<!here>' } }, T0), calls.ended(callId, 'busy', T0 + 8_000));
    const [message] = await waitFor(() => messagesFor(callId).length > 0 && messagesFor(callId), { what: `the alert for ${callId}` });
    expect(message!.text).toBe(`Missed call: ${ESCAPED} (+14155550100) to +14155550199`);
    expect(message!.blocks![1]).toEqual({
      type: 'section',
      fields: [
        field('Caller', `${ESCAPED}\n+14155550100`),
        field('Number called', '+14155550199'),
        field('Time', '2026-02-04 10:30:00 UTC'),
        field('Reason', 'Busy'),
        field('Ring time', '8 s'),
        ...(calls.dialect === 'audian.v2' ? [field('Tags', 'note: &lt;!here&gt;')] : []),
      ],
    });
    // Nowhere in what was sent does a `<` open a mention or link, and nothing asks Slack to parse names.
    expect(JSON.stringify(message!.params)).not.toMatch(/<[!@#h]/);
    expect(message!.params).toMatchObject({ parse: 'none', link_names: 'false', unfurl_links: 'false' });
  });
});
