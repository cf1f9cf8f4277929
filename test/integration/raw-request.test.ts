import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { audianV2Calls } from '../helpers/call-payloads.js';
import { baseConfig, postWebhook } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';

/**
 * `store.keep_raw` end to end: a signed webhook sent to the bridge as a
 * process comes back from `GET /admin/events/{id}` as it was sent, body
 * byte for byte and headers in order, without the value of any header that
 * verified it, nor of `Authorization` or `Cookie`.
 */

const TOKEN = 'admin-token-for-raw-tests-0123456789';
const STATIC = 'static-header-value-0123456789';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-raw-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let running: ChildBridge | undefined;
afterEach(async () => {
  if (running) await stopChildBridge(running);
  running = undefined;
});

async function start(name: string, store: Record<string, unknown> = {}): Promise<ChildBridge> {
  const dir = join(root, name);
  const config = baseConfig(dir, {
    store: { path: join(dir, 'bridge.db'), ...store },
    admin: { port: 0, token: '${TEST_ADMIN_TOKEN}' },
    sources: [
      { name: 'main', path: '/webhooks/audian', verify: { hmac: { secrets: ['whsec_test_secret'], tolerance: '300s' } } },
      { name: 'plain', path: '/webhooks/plain', verify: { header: { name: 'X-Shared-Key', value: STATIC } } },
    ],
  });
  const path = join(root, `${name}.yaml`);
  writeFileSync(path, YAML.stringify(config));
  running = await startChildBridge(path, { env: { TEST_ADMIN_TOKEN: TOKEN }, timeoutMs: 60_000 });
  if (!running.adminUrl) throw new Error(`no admin API:\n${running.output()}`);
  return running;
}

async function eventOf(bridge: ChildBridge, id: string) {
  const response = await fetch(`${bridge.adminUrl}/admin/events/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.status, text: await response.text() };
}

describe('the raw request of a webhook', () => {
  it('is in /admin/events/{id}: the body as sent, its headers, no verification value', async () => {
    const bridge = await start('kept');
    const payload = audianV2Calls.initiated('c-raw', { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());
    // Written by hand, spacing and key order as the sender chose: what is kept is these bytes, not a re-serialization.
    const body = `{ "id" : ${JSON.stringify(payload.id)},\n  "timestamp": ${JSON.stringify(payload.timestamp)}, "event": "call.initiated", "data": ${JSON.stringify(payload.data)} }`;
    const sent = await postWebhook(`${bridge.url}/webhooks/audian`, body, {
      timestamp: Math.floor(Date.now() / 1000),
      headers: { authorization: 'Bearer caller-secret', cookie: 'session=caller-cookie', 'x-trace': '<script>alert(1)</script>' },
    });
    expect(sent.status).toBe(200);
    const { status, text } = await eventOf(bridge, sent.body.id as string);
    expect(status).toBe(200);
    const raw = (JSON.parse(text) as { raw: { headers: [string, string][]; body: string; encoding: string; bytes: number } }).raw;
    expect(raw.body).toBe(body);
    expect(raw).toMatchObject({ encoding: 'utf8', bytes: Buffer.byteLength(body) });
    const headers = new Map(raw.headers.map(([name, value]) => [name.toLowerCase(), value]));
    expect(headers.get('x-trace')).toBe('<script>alert(1)</script>');
    expect(headers.get('content-type')).toBe('application/json');
    for (const name of ['x-audian-signature', 'x-audian-timestamp', 'authorization', 'cookie']) expect(headers.get(name), name).toBe('[redacted]');
    // Neither the signature nor the other secrets appear anywhere in the answer.
    expect(text).not.toMatch(/sha256=[0-9a-f]{64}/);
    for (const secret of ['caller-secret', 'caller-cookie']) expect(text).not.toContain(secret);
  });

  it('a header-verified source keeps its header name only; keep_raw off keeps nothing', { timeout: 120_000 }, async () => {
    let bridge = await start('static');
    const payload = audianV2Calls.initiated('c-static', { direction: 'inbound', from: '+15550001', to: '+15550002' }, Date.now());
    const sent = await postWebhook(`${bridge.url}/webhooks/plain`, payload, { sign: false, headers: { 'X-Shared-Key': STATIC } });
    expect(sent.status).toBe(200);
    const kept = await eventOf(bridge, sent.body.id as string);
    expect(kept.text).not.toContain(STATIC);
    expect((JSON.parse(kept.text) as { raw: { headers: [string, string][] } }).raw.headers).toContainEqual(['X-Shared-Key', '[redacted]']);
    await stopChildBridge(bridge);

    bridge = await start('off', { keep_raw: false });
    const again = await postWebhook(`${bridge.url}/webhooks/audian`, payload);
    expect(again.status).toBe(200);
    const off = await eventOf(bridge, again.body.id as string);
    expect(off.status).toBe(200);
    expect(JSON.parse(off.text)).toMatchObject({ event: { id: again.body.id }, raw: null });
  });
});
