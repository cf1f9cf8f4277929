import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONNECTORS } from '../../connectors/index.js';
import { parseConfig } from '../../src/config/load.js';
import { baseConfig, postWebhook, startServiceWithDb, type ServiceWithDb } from '../helpers/bridge.js';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { startFakeSlack, type FakeSlack, type PostedMessage } from '../helpers/fake-slack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * What must outlive a restart of the bridge: the thread an alert opened (so a
 * callback still lands under it) and a delivery's Retry-After wait (kept in
 * the outbox, not in the Slack client's memory).
 */
const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T10:30:00Z');
const CALLER = '+14155550100';
const OUR_NUMBER = '+14155550199';

let slack: FakeSlack;
let dir: string;
let service: ServiceWithDb | undefined;

beforeAll(async () => {
  slack = await startFakeSlack({ channels: { alerts: 'C0ALERTS' } });
  dir = mkdtempSync(join(tmpdir(), 'audian-bridge-slack-threads-'));
});
afterAll(async () => {
  await service?.stop();
  await slack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** (Re)starts the bridge on the same database file. */
async function start(): Promise<ServiceWithDb> {
  const config = baseConfig(dir, {
    lifecycle: { missed_call_grace: '200ms' },
    connectors: {
      slack: { type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: 0, thread_follow_ups: true },
    },
    routes: [
      { name: 'missed-calls', match: { type: 'call.missed' }, to: 'slack' },
      { name: 'callbacks', match: { type: 'call.answered' }, when: "data.call.direction = 'outbound'", to: 'slack' },
    ],
  });
  service = await startServiceWithDb(parseConfig(YAML.stringify(config), {}, CONNECTORS));
  return service;
}

async function post(running: ServiceWithDb, ...bodies: Record<string, unknown>[]): Promise<void> {
  for (const body of bodies) expect((await postWebhook(`${running.url}${PATH}`, body)).status).toBe(200);
}

function messagesFor(callId: string): PostedMessage[] {
  return slack.messages.filter((message) => JSON.stringify(message.blocks).includes(`"call ${callId} · event `));
}

function deliveryOf(running: ServiceWithDb, callId: string) {
  return running.db
    .prepare("SELECT d.status, d.attempts, d.last_error AS lastError FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.subject = ? AND d.connector = 'slack'")
    .get(callId) as { status: string; attempts: number; lastError: string | null } | undefined;
}

/** Rows in the delivery's attempt history. */
function attemptsOf(running: ServiceWithDb, callId: string): number {
  return (
    running.db
      .prepare("SELECT COUNT(*) AS n FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN events e ON e.seq = d.event_seq WHERE e.subject = ? AND d.connector = 'slack'")
      .get(callId) as { n: number }
  ).n;
}

function healthOf(running: ServiceWithDb) {
  return running.db.prepare("SELECT state, until FROM connector_health WHERE connector = 'slack'").get() as { state: string; until: number } | undefined;
}

it('a callback after a restart is posted in the thread of the missed-call alert', async () => {
  const first = await start();
  await post(first, audianV2Calls.initiated('th-missed', { direction: 'inbound', from: CALLER, to: OUR_NUMBER }, T0), audianV2Calls.ended('th-missed', 'no_answer', T0 + 15_000));
  const [alert] = await waitFor(() => messagesFor('th-missed').length > 0 && messagesFor('th-missed'), { what: 'the alert' });
  expect(alert!.thread_ts).toBeUndefined();
  await first.stop();

  const second = await start();
  // Somebody calls the missed caller back, from the office: an outbound call, answered.
  await post(second, audianV2Calls.initiated('th-callback', { direction: 'outbound', from: OUR_NUMBER, to: CALLER }, T0 + 600_000), audianV2Calls.answered('th-callback', T0 + 605_000));
  // An unrelated outbound call: no alert to follow, so nothing is posted for it.
  await post(second, audianV2Calls.initiated('th-other', { direction: 'outbound', from: OUR_NUMBER, to: '+14155550777' }, T0 + 600_000), audianV2Calls.answered('th-other', T0 + 601_000));

  const [reply] = await waitFor(() => messagesFor('th-callback').length > 0 && messagesFor('th-callback'), { what: 'the callback reply' });
  expect(reply).toMatchObject({ channel: 'C0ALERTS', thread_ts: alert!.ts });
  expect(reply!.blocks![0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Outbound call answered', emoji: true } });
  await waitFor(() => deliveryOf(second, 'th-other')?.status === 'delivered', { what: 'the unrelated follow-up to be handled' });
  expect(messagesFor('th-other')).toEqual([]);
});

it('a Retry-After wait survives a restart: the alert is posted once, after the wait', async () => {
  const running = service ?? (await start());
  // Long enough that the restart below comes well inside the wait.
  slack.failWith(() => ({ kind: 'rate_limited', retryAfter: '4' }));
  await post(running, audianV2Calls.initiated('ra-missed', { direction: 'inbound', from: '+14155550300', to: OUR_NUMBER }, T0), audianV2Calls.ended('ra-missed', 'busy', T0 + 9_000));
  const refusal = await waitFor(() => slack.posts().find((call) => call.status === 429 && String(call.params.blocks).includes('call ra-missed ')), { what: 'the 429' });
  slack.failWith(() => undefined);
  // The 429 holds the whole connector (docs/delivery.md, "Connector health"): the wait is kept in the store,
  // and the delivery that met it stays pending with no attempt counted.
  const held = await waitFor(() => healthOf(running)?.state === 'held' && deliveryOf(running, 'ra-missed')?.lastError != null && healthOf(running), { what: 'the connector held' });
  expect(held.until).toBeGreaterThanOrEqual(refusal.at + 4_000);
  expect(deliveryOf(running, 'ra-missed')).toMatchObject({ status: 'pending', attempts: 0 });
  expect(attemptsOf(running, 'ra-missed')).toBe(0);
  await running.stop();
  service = undefined;

  const restarted = await start();
  // Otherwise the wait was over before the restart and this test would prove nothing.
  expect(Date.now()).toBeLessThan(held.until);
  const [message] = await waitFor(() => messagesFor('ra-missed').length > 0 && messagesFor('ra-missed'), { what: 'the alert after the restart' });
  expect(message!.at).toBeGreaterThanOrEqual(held.until);
  expect(message!.at - refusal.at).toBeGreaterThanOrEqual(4_000);
  // The outbox records the outcome just after Slack's answer; only the post Slack accepted is an attempt.
  await waitFor(() => deliveryOf(restarted, 'ra-missed')?.status === 'delivered', { what: 'the delivery recorded as delivered' });
  expect(deliveryOf(restarted, 'ra-missed')).toMatchObject({ status: 'delivered', attempts: 1 });
  expect(attemptsOf(restarted, 'ra-missed')).toBe(1);
  expect(slack.posts().filter((call) => String(call.params.blocks).includes('call ra-missed ')).map((call) => call.status)).toEqual([429, 200]);
  expect(messagesFor('ra-missed')).toHaveLength(1);
});
