import { describe, expect, it } from 'vitest';
import { buildMessage, formatSeconds, formatTime } from '../../connectors/slack/blocks.js';
import { escapeMrkdwn, payloadText } from '../../connectors/slack/escape.js';
import { slackSchema } from '../../connectors/slack/index.js';
import type { CanonicalEvent } from '../../src/dialects/index.js';
import { compileTemplate } from '../../src/template.js';

function missed(data: Record<string, unknown> = {}): CanonicalEvent {
  return {
    specversion: '1.0',
    id: 'evt_c1_failed.missed',
    source: 'audian/main',
    type: 'call.missed',
    subject: 'c1',
    time: '2026-02-04T10:30:20.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: {
      call_id: 'c1',
      from: '+14155550100',
      from_name: 'Jane Doe',
      to: '+14155550199',
      call_type: 'inbound',
      reason: 'no_answer',
      ring_duration: 20,
      started_at: '2026-02-04T10:30:00.000Z',
      ended_at: '2026-02-04T10:30:20.000Z',
      tags: { campaign: 'winter_sale', agent_id: 'agent_123' },
      call: { id: 'c1', direction: 'inbound', from: '+14155550100', to: '+14155550199', from_name: 'Jane Doe', status: 'missed' },
      ...data,
    },
  };
}

const field = (label: string, value: string) => ({ type: 'mrkdwn', text: `*${label}*\n${value}`, verbatim: true });

describe('escapeMrkdwn', () => {
  it('escapes exactly &, < and >, ampersands first', () => {
    expect(escapeMrkdwn('<!channel> & <@U123> <https://evil|click> &lt;')).toBe('&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;https://evil|click&gt; &amp;lt;');
    expect(escapeMrkdwn('*bold* _it_ :tada: @here')).toBe('*bold* _it_ :tada: @here');
  });

  it('cuts before escaping, so no entity is split', () => {
    expect(payloadText('abc<def', 5)).toBe('abc&lt;…');
  });
});

describe('buildMessage', () => {
  it('a missed call: header, caller name and number, number called, time in the zone, reason, ring time, tags, ids', () => {
    expect(buildMessage(missed(), { timeZone: 'America/New_York' })).toEqual({
      text: 'Missed call: Jane Doe (+14155550100) to +14155550199',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Missed call', emoji: true } },
        {
          type: 'section',
          fields: [
            field('Caller', 'Jane Doe\n+14155550100'),
            field('Number called', '+14155550199'),
            field('Time', '2026-02-04 05:30:00 EST'),
            field('Reason', 'No answer'),
            field('Ring time', '20 s'),
            field('Tags', 'campaign: winter_sale, agent_id: agent_123'),
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'call c1 · event evt_c1_failed.missed', verbatim: true }] },
      ],
    });
  });

  it('mention and link injection through the caller name, number and tags shows as text', () => {
    const evil = '<!channel> <https://evil.example|click> <@U0ADMIN> & <!subteam^S1>';
    const message = buildMessage(
      missed({ from_name: evil, from: '<tel:+1|+1>', tags: { note: '<!here>' }, call: { id: 'c1', from_name: evil } }),
      { timeZone: 'UTC' },
    );
    const all = JSON.stringify(message);
    // No raw `<` survives anywhere: Slack parses nothing as a mention or link.
    expect(all).not.toMatch(/<[!@#h]/);
    expect(message.blocks[1]).toEqual({
      type: 'section',
      fields: [
        field('Caller', '&lt;!channel&gt; &lt;https://evil.example|click&gt; &lt;@U0ADMIN&gt; &amp; &lt;!subteam^S1&gt;\n&lt;tel:+1|+1&gt;'),
        field('Number called', '+14155550199'),
        field('Time', '2026-02-04 10:30:00 UTC'),
        field('Reason', 'No answer'),
        field('Ring time', '20 s'),
        field('Tags', 'note: &lt;!here&gt;'),
      ],
    });
    expect(message.text).toBe('Missed call: &lt;!channel&gt; &lt;https://evil.example|click&gt; &lt;@U0ADMIN&gt; &amp; &lt;!subteam^S1&gt; (&lt;tel:+1|+1&gt;) to +14155550199');
  });

  it('leaves out what is not known, and says "unknown" for the caller', () => {
    const event = missed();
    event.data = { call_id: 'c1', reason: 'cancelled', call: { id: 'c1' } };
    const message = buildMessage(event, { timeZone: 'UTC' });
    expect(message.blocks[1]).toEqual({
      type: 'section',
      fields: [field('Caller', 'unknown'), field('Number called', 'unknown'), field('Time', '2026-02-04 10:30:20 UTC'), field('Reason', 'Caller hung up before an answer')],
    });
    expect(message.text).toBe('Missed call: an unknown number');
  });

  it('an operator template heads the message; values are escaped, literal mrkdwn is kept, a missing value shows as unknown', () => {
    const template = compileTemplate('<!subteam^S0SUPPORT> missed call from *{data.from_name}* for {data.tags.team}', escapeMrkdwn);
    const message = buildMessage(missed({ from_name: '<!channel>' }), { timeZone: 'UTC', template });
    expect(message.text).toBe('<!subteam^S0SUPPORT> missed call from *&lt;!channel&gt;* for unknown');
    expect(message.blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: message.text, verbatim: true } });
    expect(message.blocks).toHaveLength(4);
  });

  it('follow-ups: outbound calls are titled as such, with their duration', () => {
    const event: CanonicalEvent = {
      ...missed(),
      id: 'evt_cb_completed',
      type: 'call.completed',
      subject: 'cb',
      data: { call_id: 'cb', duration: 125, call: { id: 'cb', direction: 'outbound', from: '+14155550199', to: '+14155550100' } },
    };
    const message = buildMessage(event, { timeZone: 'UTC' });
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Outbound call ended', emoji: true } });
    expect(message.blocks[1]).toMatchObject({ fields: expect.arrayContaining([field('Duration', '2 min 5 s'), field('Number called', '+14155550100')]) });
  });
});

describe('formatting', () => {
  it('times in the configured zone, with its name or offset', () => {
    expect(formatTime('2026-02-04T10:30:00Z', 'UTC')).toBe('2026-02-04 10:30:00 UTC');
    expect(formatTime('2026-02-04T10:30:00Z', 'Europe/Berlin')).toBe('2026-02-04 11:30:00 GMT+1');
    expect(formatTime('2026-07-04T10:30:00Z', 'America/New_York')).toBe('2026-07-04 06:30:00 EDT');
    expect(formatTime('2026-02-04T23:59:59Z', 'Asia/Tokyo')).toBe('2026-02-05 08:59:59 GMT+9');
  });

  it('durations', () => {
    expect([0, 59, 60, 61, 3600].map(formatSeconds)).toEqual(['0 s', '59 s', '1 min', '1 min 1 s', '60 min']);
  });
});

describe('slackSchema', () => {
  const base = { type: 'slack', token: 'xoxb-1', channel: 'C0ALERTS' };

  it('fills defaults', () => {
    expect(slackSchema.parse(base)).toEqual({
      ...base,
      api_url: 'https://slack.com/api/',
      thread_follow_ups: false,
      thread_window: 86_400_000,
      time_zone: 'UTC',
      min_interval: 1_000,
      timeout: 10_000,
    });
  });

  it.each([
    [{ time_zone: 'Mars/Olympus' }, 'time_zone'],
    [{ api_url: 'ftp://slack' }, 'api_url'],
    [{ message: 'Missed {data.from' }, 'message'],
    [{ token: '' }, 'token'],
    [{ webhook: 'x' }, ''],
  ])('rejects %o at %s', (extra, path) => {
    const result = slackSchema.safeParse({ ...base, ...extra });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.'))).toContain(path);
  });
});
