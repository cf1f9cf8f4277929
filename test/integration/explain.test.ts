import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audianV2Calls, CALL_PAYLOADS } from '../helpers/call-payloads.js';
import { runCli } from '../helpers/child-bridge.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http-server.js';

/**
 * `audian-bridge explain` as a process, on a config with every connector
 * type: real local servers stand in for the CRM and Slack, Kafka points at a
 * closed port, and the file, transcript and store paths must stay absent.
 */

const root = mkdtempSync(join(tmpdir(), 'audian-bridge-explain-'));
let crm: RecordingServer;
let slack: RecordingServer;
let configPath: string;
const out = join(root, 'out');

/** A port nothing listens on: taken, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  crm = await startRecordingServer();
  slack = await startRecordingServer(() => ({ status: 200, body: JSON.stringify({ ok: true, ts: '1.2' }) }));
  configPath = join(root, 'config.yaml');
  writeFileSync(
    configPath,
    YAML.stringify({
      server: { host: '127.0.0.1', port: 0 },
      store: { path: join(out, 'bridge.db') },
      sources: [{ name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: ['whsec_explain'] } } }],
      connectors: {
        events: { type: 'file', path: join(out, 'events.jsonl') },
        crm: { type: 'http', url: `${crm.url}/calls/{subject}`, method: 'PUT', headers: { Authorization: 'Bearer crm-secret-value' } },
        bus: { type: 'kafka', brokers: `127.0.0.1:${await closedPort()}`, topic: 'audian.{type}' },
        alerts: { type: 'slack', token: 'xoxb-explain-secret', channel: 'C0123', api_url: `${slack.url}/api/` },
        transcripts: { type: 'transcript', dir: join(out, 'transcripts') },
      },
      routes: [
        { name: 'all', to: ['events', 'bus'] },
        { name: 'crm', match: { type: 'call.*' }, when: 'data.call.id != ""', to: 'crm' },
        { name: 'long-calls', match: { type: 'call.completed' }, when: 'data.call.status = "failed"', to: 'alerts' },
        { name: 'missed', match: { type: 'call.missed' }, to: 'alerts' },
        { name: 'ended', match: { type: 'call.completed', test: false }, to: ['alerts', 'transcripts'] },
        // Fails at run time for every event: $number cannot read a type name.
        { name: 'broken', when: '$number(type) > 1', to: 'events' },
      ],
    }),
  );
});
afterAll(async () => {
  await crm.close();
  await slack.close();
  rmSync(root, { recursive: true, force: true });
});

const AT = Date.parse('2026-03-01T12:00:00Z');

describe('explain', () => {
  for (const calls of CALL_PAYLOADS) {
    it(`${calls.dialect}: prints the dialect, the event, each route's decision and what each connector would send; sends nothing`, async () => {
      const callId = `c-explain-${calls.dialect}`;
      const file = join(root, `${calls.dialect}.json`);
      writeFileSync(file, JSON.stringify(calls.ended(callId, 'completed', AT, { transcript: [{ speaker: 'agent', text: 'goodbye' }] })));

      const text = await runCli(['explain', '--config', configPath, '--file', file]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`dialect: ${calls.dialect}`);
      expect(text.stdout).toContain(`"subject": "${callId}"`);
      expect(text.stdout).toMatch(/MATCHED +all -> events, bus/);
      expect(text.stdout).toMatch(/not matched long-calls -> alerts\n +when data.call.status = "failed" is false/);
      expect(text.stdout).toMatch(/not matched missed -> alerts\n +match.type \["call.missed"\] does not take type call.completed/);
      expect(text.stdout).toMatch(/not matched broken -> events\n +when \$number\(type\) > 1 failed: /);
      expect(text.stdout).toContain(`crm (http) via crm: PUT ${crm.url}/calls/${callId}`);
      expect(text.stdout).toContain('without the store');
      expect(text.stdout).not.toContain('crm-secret-value');
      expect(text.stdout).not.toContain('xoxb-explain-secret');

      const json = await runCli(['explain', '--config', configPath, '--file', file, '--json']);
      expect(json.code, json.stderr).toBe(0);
      const answer = JSON.parse(json.stdout);
      expect(answer.dialect).toBe(calls.dialect);
      expect(answer.event).toMatchObject({ type: 'call.completed', subject: callId, source: 'audian/main', dialect: calls.dialect });
      expect(answer.lifecycle).toContain('call lifecycle');
      expect(answer.routes.map((route: { route: string; matched: boolean }) => [route.route, route.matched])).toEqual([
        ['all', true],
        ['crm', true],
        ['long-calls', false],
        ['missed', false],
        ['ended', true],
        ['broken', false],
      ]);
      expect(answer.routes[5].when).toEqual({ expression: '$number(type) > 1', error: expect.any(String) });
      expect(answer.routes[2].when).toEqual({ expression: 'data.call.status = "failed"', result: false });
      const byConnector = Object.fromEntries(answer.deliveries.map((delivery: { connector: string; preview: unknown }) => [delivery.connector, delivery.preview]));
      expect(Object.keys(byConnector).sort()).toEqual(['alerts', 'bus', 'crm', 'events', 'transcripts']);
      expect(byConnector.events).toMatchObject({ outcome: 'send', target: join(out, 'events.jsonl') });
      expect(JSON.parse(byConnector.events.message.line)).toMatchObject({ id: answer.event.id, subject: callId });
      expect(byConnector.bus).toMatchObject({ outcome: 'send', target: 'topic audian.call.completed', message: { topic: 'audian.call.completed', key: callId } });
      expect(byConnector.crm).toMatchObject({ outcome: 'send', message: { method: 'PUT', url: `${crm.url}/calls/${callId}`, headers: { authorization: '[redacted]' }, body: { id: answer.event.id } } });
      expect(byConnector.alerts).toMatchObject({ outcome: 'send', target: 'channel C0123', message: { channel: 'C0123' } });
      expect(byConnector.alerts.message.blocks.length).toBeGreaterThan(0);
      expect(byConnector.transcripts).toMatchObject({ outcome: 'send' });
      expect(JSON.stringify(byConnector.transcripts)).toContain('goodbye');

      // Nothing left the process and nothing was written.
      expect(crm.requests).toEqual([]);
      expect(slack.requests).toEqual([]);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('a payload the bridge would refuse is an error with its code; nothing is written', async () => {
    const file = join(root, 'unknown.json');
    writeFileSync(file, JSON.stringify({ hello: 'world' }));
    const unknown = await runCli(['explain', '--config', configPath, '--file', file]);
    expect([unknown.code, unknown.stdout]).toEqual([1, '']);
    expect(unknown.stderr).toContain('UNKNOWN_DIALECT');
    writeFileSync(file, '{not json');
    const invalid = await runCli(['explain', '--config', configPath, '--file', file]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('INVALID_JSON');
    writeFileSync(file, '{"id":"evt_lone","event":"call.ringing","data":{"call_id":"cs_\\ud800"}}');
    const lone = await runCli(['explain', '--config', configPath, '--file', file]);
    expect([lone.code, lone.stdout]).toEqual([1, '']);
    expect(lone.stderr).toContain('LONE_SURROGATE');
    expect(existsSync(out)).toBe(false);
  });

  it('applies server.body_limit as the receiver does: one byte over it is BODY_TOO_LARGE (413), at it explained', async () => {
    const LIMIT = 1024 * 1024; // the default body_limit, which this config keeps
    const file = join(root, 'large.json');
    const sized = (bytes: number) => {
      const body = JSON.stringify(audianV2Calls.initiated('c-large', { direction: 'inbound', from: '+1', to: '+2' }, AT));
      const padded = `${body.slice(0, -1)},"padding":"${'x'.repeat(bytes - body.length - 13)}"}`;
      expect(Buffer.byteLength(padded)).toBe(bytes);
      return padded;
    };
    writeFileSync(file, sized(LIMIT + 1));
    const refused = await runCli(['explain', '--config', configPath, '--file', file]);
    expect([refused.code, refused.stdout]).toEqual([1, '']);
    expect(refused.stderr).toContain('BODY_TOO_LARGE');
    expect(refused.stderr).toContain('413');
    writeFileSync(file, sized(LIMIT));
    const explained = await runCli(['explain', '--config', configPath, '--file', file]);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout).toContain('dialect: audian.v2');
    expect(existsSync(out)).toBe(false);
  });
});
