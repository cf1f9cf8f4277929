import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, postWebhook, readEvents, waitForOutboxDelivered } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-disk-full-'));
const small = join(dir, 'small');

/** A real full filesystem needs a tmpfs we may mount; where we may not, say so (and fail under CI). */
function mountSmallDisk(): string | null {
  mkdirSync(small, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { stdio: 'pipe' });
    return null;
  } catch (err) {
    const reason = `cannot mount a small tmpfs (${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()})`;
    if (process.env.CI === 'true') throw new Error(`the disk-full test cannot run under CI=true: ${reason}`);
    return reason;
  }
}
const skipReason = mountSmallDisk();

let bridge: ChildBridge | undefined;

function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [65_536, 4_096, 512, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

afterAll(async () => {
  if (bridge) await stopChildBridge(bridge, 'SIGKILL');
  if (skipReason === null) execFileSync('umount', [small]);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== null)(`a full disk under store.path${skipReason ? ` — SKIPPED: ${skipReason}` : ''}`, () => {
  beforeAll(() => {
    const config = baseConfig(dir, {
      log: { level: 'info' },
      store: { path: join(small, 'bridge.db'), dedupe_ttl: '7d' },
      connectors: { events: { type: 'file', path: join(dir, 'events.jsonl') } },
    });
    writeFileSync(join(dir, 'config.yaml'), YAML.stringify(config));
  });

  it('503 when the disk is full, no exit, and once space is back every acknowledged event is delivered once', async () => {
    bridge = await startChildBridge(join(dir, 'config.yaml'));
    const url = `${bridge.url}/webhooks/audian`;
    const webhook = (index: number) => ({
      id: `evt_full_${index}`,
      timestamp: '2026-03-01T12:00:00Z',
      event: 'call.initiated',
      data: { call_id: `call_full_${index % 7}`, direction: 'outbound', padding: 'x'.repeat(20_000) },
    });
    const acknowledged: string[] = [];
    let refused: number | undefined;
    for (let index = 0; index < 500 && refused === undefined; index++) {
      const answer = await postWebhook(url, webhook(index));
      if (answer.status === 200) acknowledged.push(answer.body.id as string);
      else {
        expect(answer).toMatchObject({ status: 503, body: { error: { code: 'STORE_UNAVAILABLE' } } });
        refused = index;
      }
    }
    expect(refused, 'the disk filled up').toBeDefined();
    expect(acknowledged.length).toBeGreaterThan(0);
    // Whatever room is left goes too. (SQLite may still fit small writes into WAL space it
    // already holds, so readiness may come and go here; the lock test pins readiness down.)
    fillUp(join(small, 'filler'));
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    expect(bridge.process.exitCode).toBeNull();

    // The operator makes room; the bridge resumes by itself.
    execFileSync('mount', ['-o', 'remount,size=64m', small]);
    await waitFor(async () => (await fetch(`${bridge!.url}/readyz`)).status === 200, { what: 'ready again' });
    const late = await postWebhook(url, webhook(refused!));
    expect(late.status).toBe(200);
    acknowledged.push(late.body.id as string);

    expect(await waitForOutboxDelivered(join(small, 'bridge.db'))).toBe(acknowledged.length);
    const lines = readEvents(join(dir, 'events.jsonl')).map((event) => event.id);
    expect(lines.sort()).toEqual([...acknowledged].sort());
    expect(bridge.process.exitCode).toBeNull();
  }, 60_000);
});
