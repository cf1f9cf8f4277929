import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_EXAMPLES } from '../../src/cli/examples.js';
import { normalizePayload, type DialectId } from '../../src/dialects/index.js';
import { readEvents, TEST_SECRET } from '../helpers/bridge.js';
import { CLI, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { seedExamples } from '../helpers/seeds.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../../scripts/kafka-broker.js';

/**
 * `audian-bridge send` against the bridge as a process: what the receiver
 * answered (the lines send prints) and what reached the file connector.
 */
const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-send-'));
const eventsFile = join(dir, 'events.jsonl');
const configPath = join(dir, 'config.yaml');
const VOICE_KEY = 'voice-key-for-send';
let bridge: ChildBridge;
let port: number;

function writeConfig(): void {
  writeFileSync(
    configPath,
    YAML.stringify({
      server: { host: '127.0.0.1', port },
      store: { path: join(dir, 'bridge.db') },
      lifecycle: { missed_call_grace: '200ms', unknown_direction: 'outbound' },
      dispatch: { retry_initial: '50ms', poll_interval: '100ms' },
      sources: [
        { name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: [TEST_SECRET] } } },
        { name: 'voice', path: '/webhooks/voice', verify: { header: { name: 'X-Api-Key', value: VOICE_KEY } } },
      ],
      connectors: { events: { type: 'file', path: eventsFile } },
      routes: [{ name: 'all', to: 'events' }],
    }),
  );
}

beforeAll(async () => {
  port = await freePort();
  writeConfig();
  bridge = await startChildBridge(configPath);
});
afterAll(async () => {
  if (bridge) await stopChildBridge(bridge);
  rmSync(dir, { recursive: true, force: true });
});

interface Line {
  status: number;
  type: string;
  id: string;
  outcome: string;
}

async function send(args: string[], env: Record<string, string> = {}) {
  const child = execFile(process.execPath, [CLI, 'send', '--config', configPath, ...args], {
    cwd: dir,
    env: { ...process.env, AUDIAN_WEBHOOK_SECRET: TEST_SECRET, ...env },
  });
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line): Line => {
      const [status, type, id, ...outcome] = line.split(' ');
      return { status: Number(status), type: type!, id: id!, outcome: outcome.join(' ') };
    });
  return { code, stdout, stderr, lines };
}

const voiceArgs = ['--dialect', 'voice', '--source', 'voice'];
const subjectsOf = (type: string) => readEvents(eventsFile).filter((event) => event.type === type).map((event) => event.subject);

describe('the shipped examples', () => {
  it('are the seed documents\' examples, verbatim, and normalize to their dialect and type', () => {
    const seeds = new Map(seedExamples().map((example) => [example.ref, example.text]));
    for (const [dialect, byType] of Object.entries(SEED_EXAMPLES)) {
      expect(Object.keys(byType).length).toBeGreaterThan(0);
      for (const [type, example] of Object.entries(byType)) {
        expect(JSON.parse(seeds.get(example.ref)!), example.ref).toEqual(example.body);
        const raw = Buffer.from(JSON.stringify(example.body));
        const event = normalizePayload(JSON.parse(raw.toString()) as Record<string, unknown>, { rawBody: raw, source: 'audian/main', receivedAt: 0 });
        expect({ dialect: event.dialect, type: event.type }).toEqual({ dialect: dialect as DialectId, type });
      }
    }
  });
});

describe('audian-bridge send', () => {
  it('sends one example by canonical type, signed, and prints status, id and deliveries', async () => {
    const result = await send(['call.completed']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines).toEqual([{ status: 200, type: 'call.completed', id: expect.stringMatching(/^evt_sim_/), outcome: 'deliveries 1' }]);
    await waitFor(() => readEvents(eventsFile).some((event) => event.id === result.lines[0]!.id), { what: 'the sent event in the file connector' });
  });

  it.each([
    ['audian.v2', ['--dialect', 'audian.v2']],
    ['audian.hooks', ['--dialect', 'audian.hooks']],
    ['voice', voiceArgs],
  ])('missed-call (%s): an inbound call that rings out unanswered becomes call.missed', async (_dialect, args) => {
    const result = await send(['missed-call', ...args]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.length).toBeGreaterThanOrEqual(2);
    expect(result.lines.every((line) => line.status === 200 && line.outcome === 'deliveries 1')).toBe(true);
    expect(result.lines[0]!.type).toBe('call.initiated');
    const events = await waitFor(() => {
      const all = readEvents(eventsFile);
      const started = all.find((event) => event.id === result.lines[0]!.id);
      const missed = started && all.find((event) => event.type === 'call.missed' && event.subject === started.subject);
      return missed ? { started, missed } : false;
    }, { what: 'call.missed for the simulated call' });
    expect(events.started.data.call_type).toBe('inbound');
    expect(events.missed.subject).toBe(events.started.subject);
  });

  it('answered-call: initiated, ringing, answered, completed of one fresh call, and no call.missed', async () => {
    const result = await send(['answered-call']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.map((line) => `${line.status} ${line.type} ${line.outcome}`)).toEqual([
      '200 call.initiated deliveries 1',
      '200 call.ringing deliveries 1',
      '200 call.answered deliveries 1',
      '200 call.completed deliveries 1',
    ]);
    const ids = result.lines.map((line) => line.id);
    const events = await waitFor(() => {
      const sent = readEvents(eventsFile).filter((event) => ids.includes(event.id));
      return sent.length === 4 && sent;
    }, { what: 'the four events of the call' });
    expect(new Set(events.map((event) => event.subject)).size).toBe(1);
    // A missed check decides at the ending; an answered call is decided at once: never missed.
    await waitFor(() => readEvents(eventsFile).some((event) => event.type === 'call.completed' && event.subject === events[0]!.subject), { what: 'completed' });
    expect(subjectsOf('call.missed')).not.toContain(events[0]!.subject);
  });

  it('transcribed-call (voice): live segments and the final transcript; a dialect without transcripts is a usage error', async () => {
    const result = await send(['transcribed-call', ...voiceArgs]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.map((line) => `${line.status} ${line.type}`)).toEqual([
      '200 call.initiated',
      '200 call.answered',
      '200 transcript.segment',
      '200 transcript.segment',
      '200 call.completed',
    ]);
    const segments = await waitFor(() => {
      const sent = readEvents(eventsFile).filter((event) => result.lines.some((line) => line.id === event.id) && event.type === 'transcript.segment');
      return sent.length === 2 && sent;
    }, { what: 'two transcript segments' });
    expect(segments.map((event) => event.data.speaker).sort()).toEqual(['ai', 'customer']);

    const refused = await send(['transcribed-call', '--dialect', 'audian.v2']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('audian.v2 cannot express transcribed-call');
    expect(refused.stderr).toContain('call.completed');
  });

  it('retry-storm: the same event several times; the first is routed, the rest are duplicates, stored once', async () => {
    const result = await send(['retry-storm', '--count', '4']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.map((line) => line.outcome)).toEqual(['deliveries 1', 'duplicate', 'duplicate', 'duplicate']);
    expect(new Set(result.lines.map((line) => line.id)).size).toBe(1);
    await waitFor(() => readEvents(eventsFile).some((event) => event.id === result.lines[0]!.id), { what: 'the event' });
    expect(readEvents(eventsFile).filter((event) => event.id === result.lines[0]!.id)).toHaveLength(1);
  });

  it('fresh ids on every run; --keep-ids replays the examples exactly (duplicates)', async () => {
    const first = await send(['call.ringing']);
    const second = await send(['call.ringing']);
    expect(second.lines[0]!.id).not.toBe(first.lines[0]!.id);
    expect(second.lines[0]!.outcome).toBe('deliveries 1');
    await send(['call.held', '--keep-ids']);
    const replay = await send(['call.held', '--keep-ids']);
    expect(replay.lines[0]).toMatchObject({ status: 200, id: SEED_EXAMPLES['audian.v2']['call.held']!.body.id, outcome: 'duplicate' });
  });

  it('--file sends a body of your own; a wrong secret is refused and send exits non-zero', async () => {
    const path = join(dir, 'own.json');
    writeFileSync(path, JSON.stringify({ id: 'evt_own_file', event: 'call.ringing', timestamp: '2026-01-01T00:00:00Z', data: { call_id: 'c_own' } }));
    const sent = await send(['--file', path]);
    expect(sent.lines[0]).toMatchObject({ status: 200, id: 'evt_own_file', outcome: 'deliveries 1' });
    const refused = await send(['--file', path], { AUDIAN_WEBHOOK_SECRET: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.lines[0]).toMatchObject({ status: 401, id: 'SIGNATURE_MISMATCH:' });
  });

  it('a type the dialect cannot express is a usage error listing what it can; a missing secret is named', async () => {
    const result = await send(['transcript.segment', '--dialect', 'audian.hooks']);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('audian.hooks cannot express transcript.segment');
    expect(result.stderr).toContain('call.initiated');
    const unsigned = await send(['call.completed'], { AUDIAN_WEBHOOK_SECRET: '' });
    expect(unsigned.code).toBe(64);
    expect(unsigned.stderr).toContain('AUDIAN_WEBHOOK_SECRET');
  });

  it('waits for /readyz before sending: a send started before the bridge still arrives', async () => {
    await stopChildBridge(bridge);
    const pending = send(['call.initiated']);
    bridge = await startChildBridge(configPath);
    const result = await pending;
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines[0]).toMatchObject({ status: 200, outcome: 'deliveries 1' });
  });
});

describe('audian-bridge send --file: the bytes of the file, as they are', () => {
  const fileWith = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const noStackTrace = (text: string) => !/\n\s+at /.test(text);

  it('an integer beyond 2^53 arrives with every digit, signed over the bytes sent (spacing of the file kept)', async () => {
    const id = `evt_big_${Date.now()}`;
    const path = fileWith('big.json', `{\n\t"id": "${id}",  "event": "call.ringing", "timestamp": "2026-01-01T00:00:00Z",\n\t"data": {"call_id": 9007199254740993}\n}\n`);
    const sent = await send(['--file', path]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.lines[0]).toMatchObject({ status: 200, id, outcome: 'deliveries 1' });
    const event = await waitFor(() => readEvents(eventsFile).find((candidate) => candidate.id === id), { what: 'the event in the file connector' });
    expect(event.subject).toBe('9007199254740993');
  });

  it('1e400 reaches the bridge as written and is refused there: 400 NUMBER_OUT_OF_RANGE, exit 1', async () => {
    const path = fileWith('huge.json', `{"id": "evt_huge_${Date.now()}", "event": "call.completed", "timestamp": "2026-01-01T00:00:00Z", "data": {"call_id": "c_huge", "duration": 1e400}}`);
    const sent = await send(['--file', path]);
    expect(sent.code).toBe(1);
    expect(sent.lines).toEqual([{ status: 400, type: path, id: 'NUMBER_OUT_OF_RANGE:', outcome: expect.any(String) }]);
  });

  it('a deeply nested file is sent, not a stack trace: the bridge answers JSON_TOO_DEEP and send prints it', async () => {
    const depth = 200_000;
    const path = fileWith('deep.json', `{"id": "evt_deep", "event": "call.ringing", "data": {"call_id": "c_deep", "x": ${'['.repeat(depth)}${']'.repeat(depth)}}}`);
    const sent = await send(['--file', path]);
    expect(sent.code).toBe(1);
    expect(noStackTrace(sent.stderr), sent.stderr).toBe(true);
    expect(sent.lines).toEqual([{ status: 400, type: path, id: 'JSON_TOO_DEEP:', outcome: expect.any(String) }]);
  });

  it('a file that is not JSON is sent too: the answer is the bridge\'s INVALID_JSON', async () => {
    const sent = await send(['--file', fileWith('text.json', 'not json at all')]);
    expect(sent.code).toBe(1);
    expect(sent.lines[0]).toMatchObject({ status: 400, id: 'INVALID_JSON:' });
  });
});

describe('audian-bridge send --url', () => {
  it.each(['data:application/json,{}', 'javascript:alert(1)', 'file:///etc/passwd', 'ftp://127.0.0.1/webhooks'])(
    '%s is refused at once: one line, usage exit code, nothing waited for',
    async (url) => {
      const started = Date.now();
      const result = await send(['call.completed', '--url', url]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.code).toBe(64);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('http');
      expect(result.stderr.trim().split('\n')[0]).toContain('--url');
      expect(/\n\s+at /.test(result.stderr), result.stderr).toBe(false);
    },
  );
});
