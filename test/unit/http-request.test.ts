import { describe, expect, it } from 'vitest';
import { createRequestPlanner, type RequestOptions } from '../../connectors/http/request.js';
import { compileUrlTemplate } from '../../connectors/http/url.js';
import type { CanonicalEvent } from '../../src/sdk/index.js';

const event = (data: Record<string, unknown> = {}): CanonicalEvent =>
  ({
    specversion: '1.0',
    id: 'evt_r1',
    source: 'audian/main',
    type: 'call.completed',
    subject: 'call-r1',
    time: '2026-02-04T10:30:00.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: { call_id: 'call-r1', ...data },
  }) as CanonicalEvent;

function plan(options: Partial<RequestOptions>, url = 'https://crm.example.com/calls/{subject}', data?: Record<string, unknown>) {
  return createRequestPlanner({ headers: {}, ...options }, compileUrlTemplate(url))(event(data), 'key-1');
}

describe('the http request planner', () => {
  it('renders the URL and headers, lower-cased, after the connector\'s own', async () => {
    const planned = await plan({ headers: { 'X-Call': '{subject}' } });
    expect(planned).toEqual({
      ok: true,
      request: {
        url: 'https://crm.example.com/calls/call-r1',
        headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', 'idempotency-key': 'key-1', 'user-agent': 'audian-bridge', 'x-call': 'call-r1' },
        body: event(),
        text: JSON.stringify(event()),
      },
    });
  });

  it('takes Authorization from auth, else from the URL\'s user info', async () => {
    const header = async (options: Partial<RequestOptions>, url?: string) => {
      const planned = await plan(options, url);
      return planned.ok ? planned.request.headers.authorization : planned.error;
    };
    expect(await header({ auth: { bearer: 't0k' } })).toBe('Bearer t0k');
    expect(await header({ auth: { basic: { username: 'u', password: 'p' } } })).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(await header({}, 'https://v:w@crm.example.com/calls/{subject}')).toBe(`Basic ${Buffer.from('v:w').toString('base64')}`);
    expect(await header({})).toBeUndefined();
  });

  it('refuses a header the event has no value for, or whose value an HTTP header cannot carry', async () => {
    expect(await plan({ headers: { 'X-Caller': '{data.from}' } })).toMatchObject({ ok: false });
    expect(await plan({ headers: { 'X-Caller': '{data.from}' } }, undefined, { from: 'Zoë 🙂' })).toMatchObject({ ok: false });
    expect(await plan({ headers: { 'X-Caller': '{data.from}' } }, undefined, { from: 'Zoë' })).toMatchObject({ ok: true, request: { headers: { 'x-caller': 'Zoë' } } });
  });

  it('maps the body with JSONata, and a mapping that throws is a failure to send', async () => {
    expect(await plan({ body: '{ "call": subject }' })).toMatchObject({ ok: true, request: { body: { call: 'call-r1' }, text: '{"call":"call-r1"}', headers: { 'content-type': 'application/json' } } });
    expect(await plan({ body: '$error("no")' })).toMatchObject({ ok: false });
  });
});
