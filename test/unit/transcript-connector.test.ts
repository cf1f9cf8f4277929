import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { fileNameOf, MAX_NAME_BYTES, transcriptConnector, transcriptSchema } from '../../connectors/transcript/index.js';
import { createDocumentPlaces } from '../../connectors/transcript/names.js';
import { planWork } from '../../connectors/transcript/work.js';
import { memoryState, type CanonicalEvent, type Delivery } from '../../src/sdk/index.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-transcript-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** A delivery of one event of call `callId`. */
function deliveryOf(type: string, callId: string, data: Record<string, unknown>, time = '2026-03-01T12:00:00.000Z'): Delivery {
  seq++;
  const event = {
    specversion: '1.0',
    id: `evt_t_${seq}`,
    source: 'audian/main',
    type,
    subject: callId,
    time,
    datacontenttype: 'application/json',
    dialect: 'voice',
    test: false,
    data: { call_id: callId, ...data },
  } as CanonicalEvent;
  return { id: seq, route: 'transcripts', attempt: 1, event };
}
function segment(callId: string, text = `line ${seq}`): Delivery {
  return deliveryOf('transcript.segment', callId, { speaker: 'agent', text });
}

const connector = transcriptConnector.create('transcripts', transcriptSchema.parse({ type: 'transcript', dir }), { logger: pino({ level: 'silent' }), fetch, now: Date.now });

describe('transcript file names', () => {
  it('a 300-character call id is written under a bounded, stable, distinct name', async () => {
    const long = 'c'.repeat(300);
    const other = `${'c'.repeat(299)}d`;
    const results = await connector.send([segment(long, 'first'), segment(other, 'other'), segment(long, 'second')], new AbortController().signal);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    const files = readdirSync(join(dir, 'main'));
    expect(files).toHaveLength(2);
    for (const file of files) expect(Buffer.byteLength(file)).toBeLessThanOrEqual(MAX_NAME_BYTES + '.jsonl'.length);
    const lines = readFileSync(join(dir, 'main', `${fileNameOf(long)}.jsonl`), 'utf8').trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { text: string }).text)).toEqual(['first', 'second']);
  });

  it('short names are unchanged escapes; a shortened name cannot be forged by a short id', () => {
    expect(fileNameOf('call/1 ..')).toBe('call%2F1%20%2E%2E');
    const shortened = fileNameOf('é'.repeat(150));
    expect(Buffer.byteLength(shortened)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(shortened).toMatch(/^(%C3%A9)+~[0-9a-f]{32}$/);
    // `~` is escaped in every unshortened name, so this id cannot land in that file.
    expect(fileNameOf(shortened)).not.toBe(shortened);
  });

  it('a failed write holds back the later events of that call in the batch, not other calls', async () => {
    const blocked = transcriptConnector.create('blocked', transcriptSchema.parse({ type: 'transcript', dir: join(dir, 'main', `${fileNameOf('c'.repeat(300))}.jsonl`) }), {
      logger: pino({ level: 'silent' }),
      fetch,
      now: Date.now,
    });
    const results = await blocked.send([segment('x1'), segment('x1'), segment('x2')], new AbortController().signal);
    expect(results.map((result) => result.ok || result.retriable)).toEqual([true, true, true]);
    expect(results.every((result) => !result.ok)).toBe(true);
    expect(results[1]).toMatchObject({ error: expect.stringMatching(/earlier event of this call/) });
    expect(results[2]).not.toMatchObject({ error: expect.stringMatching(/earlier event of this call/) });
    expect(existsSync(join(dir, 'main', 'x1.jsonl'))).toBe(false);
  });
});

describe('finished documents', () => {
  const completed = (callId: string, transcript: unknown[]) => deliveryOf('call.completed', callId, { transcript }, '2026-03-01T12:05:00.000Z');

  it('a write that cannot be renamed into place is retriable and leaves no temporary file', async () => {
    // A folder where the document belongs makes the rename fail.
    mkdirSync(join(dir, 'main', 'blocked-doc.json'), { recursive: true });
    const [result] = await connector.send([completed('blocked-doc', [{ type: 'ai', message: 'hi' }])], new AbortController().signal);
    expect(result).toMatchObject({ ok: false, retriable: true });
    expect(readdirSync(join(dir, 'main')).filter((file) => file.endsWith('.tmp'))).toEqual([]);
  });

  it('a final transcript is written as JSON and Markdown beside each other', async () => {
    const results = await connector.send([completed('doc-1', [{ type: 'ai', message: 'Greeting message' }])], new AbortController().signal);
    expect(results).toEqual([{ ok: true }]);
    expect(JSON.parse(readFileSync(join(dir, 'main', 'doc-1.json'), 'utf8'))).toMatchObject({ transcript_source: 'final', segments: [{ speaker: 'ai', text: 'Greeting message', time: null }] });
    expect(readFileSync(join(dir, 'main', 'doc-1.md'), 'utf8')).toContain('**ai**: Greeting message');
  });
});

describe('what an event asks of the connector', () => {
  const plan = (type: string, data: Record<string, unknown>) => planWork(deliveryOf(type, 'call-w', data).event, '/t');

  it('a segment appends its line to the call\'s live file', () => {
    expect(plan('transcript.segment', { speaker: 'agent', text: 'hi' })).toMatchObject({ kind: 'append', folder: join('/t', 'main'), path: join('/t', 'main', 'call-w.jsonl') });
  });

  it('a summary finishes from the live lines; transcript.completed keeps the source it names', () => {
    expect(plan('call.summary', {})).toMatchObject({ kind: 'finish', source: 'live', live: join('/t', 'main', 'call-w.jsonl') });
    expect(plan('call.summary', {})).not.toHaveProperty('segments');
    const segments = [{ speaker: 'agent', text: 'bye', time: null }];
    expect(plan('transcript.completed', { segments, transcript_source: 'final' })).toMatchObject({ kind: 'finish', source: 'final', segments });
    expect(plan('transcript.completed', { segments, transcript_source: 'live' })).toMatchObject({ kind: 'finish', source: 'live', segments });
    expect(plan('transcript.completed', {})).toMatchObject({ kind: 'none' });
  });
});

describe('where a call\'s documents go', () => {
  const ending = (endedAt: string) => deliveryOf('call.summary', 'call-d', { ended_at: endedAt }).event;

  it('naming: date fixes the folder at the first document; a preview fixes nothing', async () => {
    const places = createDocumentPlaces({ dir: '/t', naming: 'date' }, memoryState(Date.now), Date.now);
    expect(await places.peek(ending('2026-03-02T00:00:01Z'))).toEqual({ folder: join('/t', 'main', '2026-03-02'), base: join('/t', 'main', '2026-03-02', 'call-d') });
    expect(await places.settle(ending('2026-03-01T23:59:59Z'))).toMatchObject({ folder: join('/t', 'main', '2026-03-01') });
    // A later document of the call (a summary of a later revision) replaces the first one, in its folder.
    expect(await places.settle(ending('2026-03-02T00:00:01Z'))).toMatchObject({ folder: join('/t', 'main', '2026-03-01') });
    expect(await places.peek(ending('2026-03-03T00:00:00Z'))).toMatchObject({ folder: join('/t', 'main', '2026-03-01') });
  });

  it('naming: call_id puts them beside the live file', async () => {
    const places = createDocumentPlaces({ dir: '/t', naming: 'call_id' }, memoryState(Date.now), Date.now);
    expect(await places.settle(ending('2026-03-01T23:59:59Z'))).toEqual({ folder: join('/t', 'main'), base: join('/t', 'main', 'call-d') });
  });
});
