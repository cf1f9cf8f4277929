import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { TranscriptDocument } from '../../connectors/transcript/markdown.js';
import { baseConfig, postWebhook, startBridge, type TestBridge } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { waitFor } from '../helpers/wait.js';

/** Finished transcripts through the running bridge: live segments, the call's end or its summary, JSON and Markdown. */
const PATH = '/webhooks/audian';
const T0 = Date.parse('2026-02-04T23:59:30Z');
const unix = (ms: number) => Math.floor((T0 + ms) / 1000);
const iso = (ms: number) => new Date(unix(ms) * 1000).toISOString();

/** Seed 004 shapes. */
function segment(callId: string, speaker: string, text: string, at: number) {
  return { event_type: 'transcript', timestamp_utc: unix(at), payload: { call: { id: callId, from: '+905555555555', to: '+905555555554', direction: 'inbound' }, type: speaker, transcript: text }, is_test: false };
}
function ended(callId: string, at: number, transcript: unknown[] = []) {
  return { event_type: 'call_ended', timestamp_utc: unix(at), payload: { call_id: callId, from: '+905555555555', to: '+905555555554', direction: 'inbound', transcript }, is_test: false };
}

/** Every file under `dir`, relative. */
function walk(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

function readDocument(path: string): TranscriptDocument | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as TranscriptDocument) : undefined;
}

describe('finished transcripts', () => {
  let bridge: TestBridge;
  let dir: string;
  let dated: string;
  beforeAll(async () => {
    bridge = await startBridge((root) =>
      baseConfig(root, {
        connectors: {
          transcripts: { type: 'transcript', dir: join(root, 'transcripts') },
          dated: { type: 'transcript', dir: join(root, 'dated'), naming: 'date' },
        },
        routes: [{ name: 'transcripts', match: { type: ['transcript.segment', 'call.completed', 'call.summary'] }, to: ['transcripts', 'dated'] }],
      }),
    );
    dir = join(bridge.dir, 'transcripts', 'main');
    dated = join(bridge.dir, 'dated', 'main');
  });
  afterAll(() => bridge.stop());

  async function post(body: Record<string, unknown>): Promise<void> {
    expect((await bridge.post(PATH, body)).status).toBe(200);
  }

  it('live segments, then an end without a transcript: the summary writes JSON and Markdown from the segments', async () => {
    await post(segment('t-live', 'customer', 'Hello, how are you?', 1_000));
    await post(segment('t-live', 'ai', 'Fine *thanks* [link](x)', 3_000));
    await post(segment('t-live', 'customer', 'Good.', 2_000)); // arrived late, happened second
    await post(ended('t-live', 10_000));
    const document = await waitFor(() => readDocument(join(dir, 't-live.json')), { what: 'the JSON document' });
    expect(document).toMatchObject({
      call_id: 't-live',
      source: 'audian/main',
      transcript_source: 'live',
      call: { direction: 'inbound', from: '+905555555555', to: '+905555555554' },
      ended_at: iso(10_000),
      segments: [
        { speaker: 'customer', text: 'Hello, how are you?', time: iso(1_000) },
        { speaker: 'customer', text: 'Good.', time: iso(2_000) },
        { speaker: 'ai', text: 'Fine *thanks* [link](x)', time: iso(3_000) },
      ],
    });
    const markdown = readFileSync(join(dir, 't-live.md'), 'utf8');
    expect(markdown).toContain('# Call t\\-live');
    expect(markdown).toContain('- Transcript: live, 3 lines');
    expect(markdown).toContain(`**customer** (${iso(1_000).slice(11, 19)} UTC): Hello, how are you?`);
    // Payload text cannot become Markdown markup.
    expect(markdown).toContain('Fine \\*thanks\\* \\[link\\]\\(x\\)');
    expect(markdown.indexOf('Hello')).toBeLessThan(markdown.indexOf('Good'));
    expect(markdown.indexOf('Good')).toBeLessThan(markdown.indexOf('Fine'));
  });

  it('an end carrying the full transcript writes it at once; final wins over live segments, also after the summary', async () => {
    await post(segment('t-final', 'customer', 'live words', 1_000));
    const final = [{ type: 'ai', message: 'Greeting message' }, { type: 'customer', message: 'customer message 1', utc_timestamp: String(unix(4_000)) }];
    await post(ended('t-final', 9_000, final));
    const document = await waitFor(() => readDocument(join(dir, 't-final.json')), { what: 'the final document' });
    expect(document).toMatchObject({ transcript_source: 'final', segments: [{ speaker: 'ai', text: 'Greeting message', time: null }, { speaker: 'customer', text: 'customer message 1', time: iso(4_000) }] });
    // The summary follows; it must not replace the final transcript with the live lines.
    await waitFor(async () => (await bridge.store.list({ connector: 'transcripts', limit: 500 })).some((row) => row.type === 'call.summary' && row.eventId.includes('t-final') && row.status === 'delivered'), { what: 'the summary delivered' });
    expect(readDocument(join(dir, 't-final.json'))).toEqual(document);
    expect(readFileSync(join(dir, 't-final.md'), 'utf8')).toContain('- Transcript: final, 2 lines');
  });

  it('a call that ends with no segments still gets both documents', async () => {
    await post(ended('t-silent', 5_000));
    const document = await waitFor(() => readDocument(join(dir, 't-silent.json')), { what: 'the empty document' });
    expect(document).toMatchObject({ call_id: 't-silent', transcript_source: 'none', segments: [] });
    expect(readFileSync(join(dir, 't-silent.md'), 'utf8')).toContain('_No transcript was recorded for this call._');
  });

  it('naming: date puts the documents under the UTC date the call ended; no temporary file is left anywhere', async () => {
    // T0 is 23:59:30 UTC: a call ending 40 s later ends the next day.
    await post(segment('t-dated', 'customer', 'late night', 1_000));
    await post(ended('t-dated', 40_000));
    await waitFor(() => readDocument(join(dated, '2026-02-05', 't-dated.json')), { what: 'the dated document' });
    expect(existsSync(join(dated, '2026-02-05', 't-dated.md'))).toBe(true);
    // The call's last writes are its summary's, to both connectors: once those are recorded, no write is in flight.
    await waitFor(async () => {
      const rows = (await bridge.store.list({ call: 't-dated', limit: 500 })).filter((row) => row.type === 'call.summary');
      return rows.length === 2 && rows.every((row) => row.status === 'delivered');
    }, { what: 't-dated summary written by both connectors' });
    const files = [...walk(join(bridge.dir, 'transcripts')), ...walk(join(bridge.dir, 'dated'))];
    expect(files.filter((file) => file.endsWith('.tmp'))).toEqual([]);
    expect(files).toContain('main/t-live.jsonl');
  });
});

describe('a SIGKILL between segments loses none', () => {
  let dir: string;
  let child: ChildBridge | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'audian-bridge-transcripts-'));
  });
  afterAll(async () => {
    if (child) await stopChildBridge(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('segments acknowledged before the kill are in the finished transcript, each once, in order', async () => {
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      YAML.stringify(
        baseConfig(dir, {
          connectors: { transcripts: { type: 'transcript', dir: join(dir, 'transcripts') } },
          routes: [{ name: 'transcripts', match: { type: ['transcript.segment', 'call.completed', 'call.summary'] }, to: 'transcripts' }],
        }),
      ),
    );
    child = await startChildBridge(configPath);
    const lines = Array.from({ length: 8 }, (_, index) => segment('t-kill', index % 2 ? 'ai' : 'customer', `line ${index}`, 1_000 * (index + 1)));
    for (const body of lines.slice(0, 4)) expect((await postWebhook(`${child.url}${PATH}`, body)).status).toBe(200);
    // Killed the moment the fourth segment is acknowledged, with deliveries possibly in flight.
    child.process.kill('SIGKILL');
    expect(await child.exited).toBe('SIGKILL');

    child = await startChildBridge(configPath);
    for (const body of [...lines.slice(4), ended('t-kill', 20_000)]) expect((await postWebhook(`${child.url}${PATH}`, body)).status).toBe(200);
    const document = await waitFor(() => readDocument(join(dir, 'transcripts', 'main', 't-kill.json')), { what: 'the finished transcript', timeoutMs: 15_000 });
    expect(document.segments.map((line) => line.text)).toEqual(lines.map((_, index) => `line ${index}`));
    expect(walk(join(dir, 'transcripts')).filter((file) => file.endsWith('.tmp'))).toEqual([]);
    expect(await stopChildBridge(child)).toBe(0);
    child = undefined;
  });
});
