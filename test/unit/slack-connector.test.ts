import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { slackConnector, slackSchema } from '../../connectors/slack/index.js';
import { createPacer, MAX_WAIT_IN_PLACE_MS } from '../../connectors/slack/pacing.js';
import { memoryState } from '../../connectors/slack/threads.js';
import type { ConnectorState, Delivery } from '../../src/sdk/index.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';

let slack: FakeSlack;
beforeAll(async () => {
  slack = await startFakeSlack({ channels: { alerts: 'C0ALERTS' } });
});
afterAll(() => slack.close());
beforeEach(() => {
  slack.calls.length = 0;
  slack.messages.length = 0;
  slack.failWith(() => undefined);
});

function connector(options: Record<string, unknown> = {}, state?: ConnectorState, now: () => number = Date.now) {
  const parsed = slackSchema.parse({ type: 'slack', token: slack.token, channel: 'alerts', api_url: slack.apiUrl, min_interval: 0, ...options });
  return slackConnector.create('slack', parsed, { logger: pino({ level: 'silent' }), fetch: globalThis.fetch, now, ...(state ? { state } : {}) });
}

let seq = 0;
function event(type: string, callId: string, data: Record<string, unknown>): CanonicalEvent {
  return {
    specversion: '1.0',
    id: `evt_${++seq}`,
    source: 'audian/main',
    type,
    subject: callId,
    time: '2026-02-04T10:30:00.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: { call_id: callId, ...data },
  };
}
const missedFrom = (callId: string, from: string) =>
  event('call.missed', callId, { from, to: '+14155550199', reason: 'no_answer', call: { id: callId, direction: 'inbound', from, to: '+14155550199' } });

async function send(target: ReturnType<typeof connector>, ev: CanonicalEvent, signal = new AbortController().signal) {
  const delivery: Delivery = { id: seq, route: 'missed', attempt: 1, event: ev };
  const [result] = await target.send([delivery], signal);
  return result;
}

describe('posting', () => {
  it('posts chat.postMessage with the bearer token, blocks, and no link or mention parsing', async () => {
    const result = await send(connector(), missedFrom('p1', '+14155550100'));
    expect(result).toEqual({ ok: true });
    expect(slack.calls).toHaveLength(1);
    expect(slack.calls[0]).toMatchObject({ method: 'chat.postMessage', authorization: `Bearer ${slack.token}` });
    expect(slack.messages[0]!.params).toMatchObject({ channel: 'alerts', parse: 'none', link_names: 'false', unfurl_links: 'false', unfurl_media: 'false' });
    expect(slack.messages[0]!.params).not.toHaveProperty('thread_ts');
    expect(slack.messages[0]!.blocks).toHaveLength(3);
  });

  it('start() checks the token with auth.test and never throws', async () => {
    await connector().start();
    await connector({ token: 'xoxb-wrong' }).start();
    expect(slack.calls.map((call) => [call.method, call.error])).toEqual([['auth.test', undefined], ['auth.test', 'invalid_auth']]);
  });
});

describe('failures are classified; the client never retries on its own', () => {
  it('429 with Retry-After: retriable after that wait, one request only', async () => {
    slack.failWith(() => ({ kind: 'rate_limited', retryAfter: '3' }));
    const result = await send(connector(), missedFrom('r1', '+1415555'));
    expect(result).toEqual({ ok: false, retriable: true, error: 'Slack rate limit: retry after 3 s', retryAfterMs: 3_000, fault: 'throttled' });
    expect(slack.posts()).toHaveLength(1);
  });

  it('429 without a usable Retry-After: retriable with the dispatcher\'s backoff, one request only', async () => {
    slack.failWith(() => ({ kind: 'rate_limited' }));
    const result = await send(connector(), missedFrom('r2', '+1415555'));
    expect(result).toMatchObject({ ok: false, retriable: true });
    expect(result).not.toHaveProperty('retryAfterMs');
    expect(result).not.toHaveProperty('fault');
    expect(slack.posts()).toHaveLength(1);
  });

  it.each(['invalid_auth', 'channel_not_found', 'not_in_channel', 'account_inactive', 'token_revoked', 'missing_scope', 'is_archived', 'invalid_blocks'])(
    '%s is permanent',
    async (error) => {
      slack.failWith(() => ({ kind: 'error', error }));
      const result = await send(connector(), missedFrom('e1', '+1415555'));
      expect(result).toMatchObject({ ok: false, retriable: false });
      expect(result).toHaveProperty('error', expect.stringContaining(`Slack answered ${error}`));
      expect(slack.posts()).toHaveLength(1);
    },
  );

  it('a wrong token and an unknown channel are refused by the fake itself, and permanent', async () => {
    expect(await send(connector({ token: 'xoxb-wrong' }), missedFrom('e2', '+1415555'))).toMatchObject({ ok: false, retriable: false, error: expect.stringContaining('invalid_auth') });
    expect(await send(connector({ channel: 'nowhere' }), missedFrom('e3', '+1415555'))).toMatchObject({ ok: false, retriable: false, error: expect.stringContaining('channel_not_found') });
  });

  it.each(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'some_new_error'])('%s is retriable', async (error) => {
    slack.failWith(() => ({ kind: 'error', error }));
    const result = await send(connector(), missedFrom('e4', '+1415555'));
    expect(result).toMatchObject({ ok: false, retriable: true });
    // Only Slack saying it is down is the connector's failure; the others stay this delivery's.
    expect((result as { fault?: string }).fault).toBe(error === 'service_unavailable' ? 'unreachable' : undefined);
  });

  it.each([
    [500, true, 'server'],
    [503, true, 'server'],
    [404, false, undefined],
  ])('HTTP %i: retriable %s, fault %s', async (status, isRetriable, fault) => {
    slack.failWith(() => ({ kind: 'http', status, body: '<html>oops</html>' }));
    const result = await send(connector(), missedFrom('e5', '+1415555'));
    expect(result).toMatchObject({ ok: false, retriable: isRetriable });
    expect((result as { fault?: string }).fault).toBe(fault);
    expect(slack.posts()).toHaveLength(1);
  });

  it('a network failure is retriable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await send(connector({ api_url: `http://127.0.0.1:${port}/api/` }), missedFrom('e6', '+1415555'));
    expect(result).toMatchObject({ ok: false, retriable: true, error: expect.stringContaining('request to Slack failed'), fault: 'unreachable' });
  });

  it('an aborted send (dispatcher timeout or shutdown) is retriable', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    expect(await send(connector(), missedFrom('e7', '+1415555'), controller.signal)).toMatchObject({ ok: false, retriable: true });
  });
});

describe('pacing', () => {
  it('keeps min_interval between posts', async () => {
    const target = connector({ min_interval: '300ms' });
    await send(target, missedFrom('m1', '+1415555'));
    await send(target, missedFrom('m2', '+1415556'));
    const [first, second] = slack.posts();
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(290);
  });

  it('after a 429 the next post waits out Retry-After instead of hitting Slack again', async () => {
    const target = connector();
    let first = true;
    slack.failWith(() => {
      if (!first) return undefined;
      first = false;
      return { kind: 'rate_limited', retryAfter: '1' };
    });
    expect(await send(target, missedFrom('w1', '+1415555'))).toMatchObject({ retryAfterMs: 1_000 });
    expect(await send(target, missedFrom('w2', '+1415556'))).toEqual({ ok: true });
    const [limited, next] = slack.posts();
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(950);
  });
});

describe('the pacer', () => {
  it('hands a wait longer than it waits in place to the outbox, and never shortens a hold', async () => {
    let now = 1_000_000;
    const pacer = createPacer(() => now);
    expect(await pacer.waitTurn(new AbortController().signal)).toBeUndefined();
    pacer.holdFor(30_000);
    pacer.holdFor(1_000);
    now += 5_000;
    expect(await pacer.waitTurn(new AbortController().signal)).toEqual({ ok: false, retriable: true, error: expect.any(String), retryAfterMs: 25_000, fault: 'throttled' });
    now += 25_000 - MAX_WAIT_IN_PLACE_MS + 1;
    const controller = new AbortController();
    controller.abort();
    // Within the limit it waits in place, and an abort ends the wait as retriable.
    expect(await pacer.waitTurn(controller.signal)).toEqual({ ok: false, retriable: true, error: expect.any(String) });
  });
});

describe('thread_follow_ups', () => {
  it('a callback and a repeated call from the same number go in the first alert\'s thread; other events are not posted', async () => {
    const state = memoryState(Date.now);
    const target = connector({ thread_follow_ups: true }, state);
    expect(await send(target, missedFrom('t1', '+1 (415) 555-0100'))).toEqual({ ok: true });
    const alert = slack.messages[0]!;

    // A callback: outbound to the number that was missed.
    const callback = event('call.answered', 't2', { call: { id: 't2', direction: 'outbound', from: '+14155550199', to: '+14155550100' } });
    expect(await send(target, callback)).toEqual({ ok: true });
    // The same caller, missed again.
    expect(await send(target, missedFrom('t3', '+14155550100'))).toEqual({ ok: true });
    // A later event of the alerted call itself, without any number.
    expect(await send(target, event('recording.completed', 't1', { recording_id: 'rec1' }))).toEqual({ ok: true });
    // Somebody else's answered call: no alert to follow, nothing posted.
    expect(await send(target, event('call.answered', 't4', { call: { id: 't4', direction: 'outbound', to: '+14155550777' } }))).toEqual({ ok: true });

    expect(slack.messages.map((message) => [message.thread_ts, message.params.reply_broadcast])).toEqual([
      [undefined, undefined],
      [alert.ts, undefined],
      [alert.ts, 'true'],
      [alert.ts, undefined],
    ]);
    expect(slack.messages.every((message) => message.channel === 'C0ALERTS')).toBe(true);
    // Replies go to the channel ID Slack answered with, not the configured name.
    expect(slack.messages[1]!.params.channel).toBe('C0ALERTS');

    // A new connector on the same state (a restart) still knows the thread.
    const restarted = connector({ thread_follow_ups: true }, state);
    await send(restarted, event('call.completed', 't5', { duration: 30, call: { id: 't5', direction: 'outbound', to: '+14155550100' } }));
    expect(slack.messages[4]!.thread_ts).toBe(alert.ts);
  });

  it('threads expire after thread_window', async () => {
    let clock = Date.parse('2026-02-04T10:00:00Z');
    const now = () => clock;
    const target = connector({ thread_follow_ups: true, thread_window: '1h' }, memoryState(now), now);
    await send(target, missedFrom('x1', '+14155550111'));
    const callback = () => event('call.answered', 'x2', { call: { id: 'x2', direction: 'outbound', to: '+14155550111' } });
    clock += 3_599_000;
    await send(target, callback());
    expect(slack.messages).toHaveLength(2);
    clock += 2_000;
    await send(target, callback());
    expect(slack.messages).toHaveLength(2);
  });

  it('without thread_follow_ups every routed event is posted at the top level', async () => {
    const target = connector();
    await send(target, missedFrom('n1', '+14155550222'));
    await send(target, event('call.answered', 'n2', { call: { id: 'n2', direction: 'outbound', to: '+14155550222' } }));
    expect(slack.messages.map((message) => message.thread_ts)).toEqual([undefined, undefined]);
  });
});
