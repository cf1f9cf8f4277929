import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECTORS } from '../../connectors/index.js';
import { idempotencyKey } from '../../connectors/http/index.js';
import { memoryState } from '../../connectors/slack/threads.js';
import type { CanonicalEvent, ConnectorState, Preview } from '../../src/sdk/index.js';

/**
 * Every connector's `preview`: what it would send, with secrets redacted,
 * and nothing sent — each target here is an address nothing listens on, or
 * a file that must stay absent.
 */
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-preview-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Fails the test if anything is fetched. */
const noFetch: typeof fetch = () => {
  throw new Error('preview fetched something');
};

function create(options: Record<string, unknown>, state?: ConnectorState) {
  const definition = CONNECTORS[options.type as string]!;
  return definition.create('preview', definition.schema.parse(options), { logger: pino({ level: 'silent' }), fetch: noFetch, now: Date.now, ...(state ? { state } : {}) });
}

/** The message of a `send` preview. */
function messageOf<T>(preview: Preview): T {
  if (preview.outcome !== 'send') throw new Error(`expected a send preview, got ${JSON.stringify(preview)}`);
  return preview.message as T;
}

const event = (type: string, data: Record<string, unknown> = {}, subject: string | null = 'call_p1'): CanonicalEvent =>
  ({
    specversion: '1.0',
    id: 'evt_preview_1',
    source: 'audian/main',
    type,
    ...(subject === null ? {} : { subject }),
    time: '2026-02-04T10:30:00.000Z',
    datacontenttype: 'application/json',
    dialect: 'audian.v2',
    test: false,
    data: { call_id: subject, from: '+14155550100', to: '+14155550199', reason: 'no_answer', call: { id: subject, direction: 'inbound', from: '+14155550100' }, ...data },
  }) as CanonicalEvent;

describe('http preview', () => {
  const options = {
    type: 'http',
    url: 'https://alice:hunter2@127.0.0.1:9/calls/{subject}?type={type}&api_key=k-123',
    method: 'PUT',
    headers: { Authorization: 'Bearer crm-secret', 'X-Api-Key': 'k-456', 'X-Auth-Token': 't-789', 'X-Client-Secret': 's-1', Cookie: 'sid=1', 'X-Event-Type': '{type}' },
    body: '{ "call": subject, "kind": type }',
  };

  it('shows method, rendered URL, headers with secrets redacted, and the body', async () => {
    const preview = await create(options).preview(event('call.completed'), 'crm-route');
    expect(preview).toEqual({
      outcome: 'send',
      target: 'PUT https://127.0.0.1:9/calls/call_p1?type=call.completed&api_key=[redacted]',
      message: {
        method: 'PUT',
        url: 'https://127.0.0.1:9/calls/call_p1?type=call.completed&api_key=[redacted]',
        headers: {
          'content-type': 'application/json',
          // Unique per (source, type, event id, route, connector): the connector here is named `preview`.
          'idempotency-key': idempotencyKey({ source: 'audian/main', type: 'call.completed', id: 'evt_preview_1' }, 'crm-route', 'preview'),
          'user-agent': 'audian-bridge',
          authorization: '[redacted]',
          'x-api-key': '[redacted]',
          'x-auth-token': '[redacted]',
          'x-client-secret': '[redacted]',
          cookie: '[redacted]',
          'x-event-type': 'call.completed',
        },
        body: { call: 'call_p1', kind: 'call.completed' },
      },
    });
    const text = JSON.stringify(preview);
    for (const secret of ['hunter2', 'alice', 'crm-secret', 'k-123', 'k-456', 't-789', 's-1', 'sid=1']) expect(text).not.toContain(secret);
  });

  it('a Basic authorization taken from the URL is redacted too, and the default body is the event', async () => {
    const preview = await create({ type: 'http', url: 'http://bob:pw@127.0.0.1:9/x/{subject}' }).preview(event('call.completed'));
    expect(preview).toMatchObject({ outcome: 'send', message: { headers: { authorization: '[redacted]' }, body: { id: 'evt_preview_1', type: 'call.completed' } } });
  });

  it('says why a delivery would fail: a dot-segment, CR/LF in a header, a missing value', async () => {
    expect(await create(options).preview(event('call.completed', {}, '..'))).toEqual({ outcome: 'fail', error: expect.stringMatching(/path segment/) });
    const crlf = await create({ type: 'http', url: 'http://127.0.0.1:9/x', headers: { 'X-Caller': '{data.from}' } }).preview(event('call.completed', { from: 'a\r\nb: c' }));
    expect(crlf).toEqual({ outcome: 'fail', error: expect.stringMatching(/x-caller: .*CR, LF/) });
    expect(await create({ type: 'http', url: 'http://127.0.0.1:9/x/{data.nope}' }).preview(event('call.completed'))).toEqual({ outcome: 'fail', error: 'url template has no value for {data.nope}' });
  });
});

describe('kafka preview', () => {
  it('shows topic, key, headers and value (binary mode: ce_ headers, data as the value)', async () => {
    const preview = await create({ type: 'kafka', brokers: '127.0.0.1:9', topic: 'audian.{type}', mode: 'binary' }).preview(event('call.missed'));
    expect(preview).toMatchObject({ outcome: 'send', target: 'topic audian.call.missed', message: { topic: 'audian.call.missed', key: 'call_p1', headers: { ce_id: 'evt_preview_1', ce_type: 'call.missed', 'content-type': 'application/json' } } });
    expect(JSON.parse(messageOf<{ value: string }>(preview).value)).toMatchObject({ call_id: 'call_p1' });
  });

  it('structured mode: the whole event; an invalid topic is a failure', async () => {
    const structured = await create({ type: 'kafka', brokers: '127.0.0.1:9', topic: 'audian.calls' }).preview(event('call.missed'));
    expect(JSON.parse(messageOf<{ value: string }>(structured).value)).toMatchObject({ id: 'evt_preview_1', specversion: '1.0' });
    const bad = await create({ type: 'kafka', brokers: '127.0.0.1:9', topic: 'calls/{data.from}' }).preview(event('call.missed'));
    expect(bad).toEqual({ outcome: 'fail', error: expect.stringMatching(/not a valid Kafka topic name/) });
  });
});

describe('slack preview', () => {
  const options = { type: 'slack', token: 'xoxb-secret', channel: 'C0ALERTS', api_url: 'http://127.0.0.1:9/api/' };

  it('shows channel, text and blocks; never the token', async () => {
    const preview = await create(options).preview(event('call.missed', { from_name: '<!channel>' }));
    expect(preview).toMatchObject({ outcome: 'send', target: 'channel C0ALERTS', message: { channel: 'C0ALERTS', text: expect.stringContaining('Missed call') } });
    const blocks = messageOf<{ blocks: { type: string }[] }>(preview).blocks;
    expect(blocks.map((block) => block.type)).toEqual(['header', 'section', 'context']);
    expect(JSON.stringify(preview)).toContain('&lt;!channel&gt;');
    expect(JSON.stringify(preview)).not.toContain('xoxb-secret');
  });

  it('with thread_follow_ups: a follow-up without an alert is "not posted" and why; with one, it goes in the thread', async () => {
    const state = memoryState(Date.now);
    const threaded = create({ ...options, thread_follow_ups: true }, state);
    expect(await threaded.preview(event('call.completed'))).toEqual({ outcome: 'skip', reason: expect.stringMatching(/^not posted: .*no alert thread/) });
    state.set(`thread:call:C0ALERTS\u0000audian/main\u0000call_p1`, JSON.stringify({ channel: 'C0ALERTS', ts: '1700000000.000100', until: Date.now() + 60_000 }), Date.now() + 60_000);
    expect(await threaded.preview(event('call.completed'))).toMatchObject({ outcome: 'send', message: { thread_ts: '1700000000.000100' } });
  });
});

describe('file and transcript previews', () => {
  it('file: the line it would append, and no file is created', async () => {
    const path = join(dir, 'events.jsonl');
    const preview = await create({ type: 'file', path }).preview(event('call.initiated'));
    expect(preview).toMatchObject({ outcome: 'send', target: path, message: { path } });
    expect(JSON.parse(messageOf<{ line: string }>(preview).line)).toMatchObject({ id: 'evt_preview_1' });
    expect(existsSync(path)).toBe(false);
  });

  it('transcript: which file a segment appends to and a completed call replaces; other events skip', async () => {
    const transcripts = create({ type: 'transcript', dir: join(dir, 'transcripts') });
    expect(await transcripts.preview(event('transcript.segment', { speaker: 'agent', text: 'hello' }))).toMatchObject({
      outcome: 'send',
      target: join(dir, 'transcripts', 'main', 'call_p1.jsonl'),
      message: { append: expect.stringContaining('"text":"hello"') },
    });
    expect(await transcripts.preview(event('call.completed', { transcript: [{ speaker: 'agent', text: 'bye' }] }))).toMatchObject({
      outcome: 'send',
      target: join(dir, 'transcripts', 'main', 'call_p1.json'),
      message: { replace_with: expect.stringContaining('"bye"') },
    });
    expect(await transcripts.preview(event('call.answered'))).toEqual({ outcome: 'skip', reason: expect.stringContaining('nothing to write') });
    expect(await transcripts.preview(event('object.updated', {}, null))).toEqual({ outcome: 'skip', reason: 'the event concerns no call' });
    expect(existsSync(join(dir, 'transcripts'))).toBe(false);
  });
});
