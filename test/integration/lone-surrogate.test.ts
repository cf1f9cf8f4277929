import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import Database from '../../src/store/sqlite/driver.js';
import { signAudianRequest } from '../../src/verify/index.js';
import { baseConfig, TEST_SECRET } from '../helpers/bridge.js';
import { startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { createDatabase, postgresEnv, skipNote, withClient } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A webhook holding a lone UTF-16 surrogate (`\ud800` without its pair: valid
 * JSON, but no Unicode text) is refused at the receiver, on either store, and
 * leaves nothing behind. On PostgreSQL such text is kept as U+FFFD, so a call id
 * holding one never matched its own row and its commit waited for ever with the
 * call's row locked: every later webhook to that replica, and those of the same
 * call at another replica, waited behind it.
 */

const { url: adminUrl, skipReason } = postgresEnv();
/** Long enough for an answer on a loaded machine, short enough that a commit that waits for ever fails the test. */
const ANSWER_WITHIN_MS = 8_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
}

/** POSTs the raw body signed, as Audian does, and gives up after ANSWER_WITHIN_MS (a failure, not a hang). */
async function post(bridge: ChildBridge, raw: string | Buffer): Promise<Answer> {
  const response = await fetch(`${bridge.url}/webhooks/audian`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signAudianRequest(raw, TEST_SECRET) },
    body: raw,
    signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
  });
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, code: body.error?.code };
}

/** An `audian.v2` body as JSON text; `callId` and `extra` are spliced in as written, so escapes stay escapes. */
function v2Body(id: string, callId: string, extra = ''): string {
  return `{"id":"${id}","timestamp":"${new Date().toISOString()}","event":"call.initiated","data":{"call_id":"${callId}","call_type":"outbound"${extra}}}`;
}

/** Bodies with a lone surrogate escaped in a value or a key, at any depth, high or low half; and one encoded raw. */
const REFUSED: readonly [string, string | Buffer, string][] = [
  ['a high surrogate alone in the call id', v2Body('evt_lone_1', 'cs_\\ud800'), 'LONE_SURROGATE'],
  ['a low surrogate alone in the call id', v2Body('evt_lone_2', '\\udfffcs'), 'LONE_SURROGATE'],
  ['two high halves in the event id', v2Body('evt_lone_\\ud83d\\ud83d', 'cs_ok'), 'LONE_SURROGATE'],
  ['a lone surrogate in a key three levels down', v2Body('evt_lone_4', 'cs_ok', ',"tags":{"a":{"k\\udc00":1}}'), 'LONE_SURROGATE'],
  ['a lone surrogate in an array', v2Body('evt_lone_5', 'cs_ok', ',"list":["x",["y\\uDBFF"]]'), 'LONE_SURROGATE'],
  // The UTF-8 form of U+D800 (CESU-8) is no UTF-8 at all.
  ['a surrogate encoded as bytes', withBytes(v2Body('evt_lone_6', 'cs_@'), [0xed, 0xa0, 0x80]), 'INVALID_JSON'],
];

/** `text` as UTF-8 with its `@` replaced by `bytes`. */
function withBytes(text: string, bytes: readonly number[]): Buffer {
  const at = text.indexOf('@');
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + 1))]);
}

/** Sends every refused body to `replicas` in turn; each is answered at once with its code. */
async function expectRefused(replicas: readonly ChildBridge[]): Promise<void> {
  for (const [index, [name, raw, code]] of REFUSED.entries()) {
    const answer = await post(replicas[index % replicas.length]!, raw);
    expect(answer, name).toEqual({ status: 400, code });
  }
}

/** `count` bridge processes in a fresh directory, each with the store section `store` gives it. */
async function startBridges(count: number, store: (dir: string, index: number) => Record<string, unknown>): Promise<ChildBridge[]> {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-surrogate-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const path = join(dir, `bridge-${index}.yaml`);
      writeFileSync(path, YAML.stringify(baseConfig(dir, { store: store(dir, index), connectors: { events: { type: 'file', path: join(dir, `events-${index}.jsonl`) } } })));
      const bridge = await startChildBridge(path, { timeoutMs: 30_000 });
      cleanups.push(async () => void (await stopChildBridge(bridge, 'SIGKILL')));
      return bridge;
    }),
  );
}

describe.skipIf(adminUrl === null)(`a lone surrogate at two bridge processes on one PostgreSQL database${skipNote(skipReason)}`, () => {
  it('is refused at once with 400 LONE_SURROGATE; the next webhooks to both are accepted and nothing is held', async () => {
    const database = await createDatabase(adminUrl!, 'audian_surrogate');
    cleanups.push(() => database.drop());
    const replicas = await startBridges(2, () => ({ url: database.url }));

    await expectRefused(replicas);
    // The call U+FFFD stands for, at both replicas: nobody holds its row, nothing waits.
    const [a, b] = replicas as [ChildBridge, ChildBridge];
    const accepted = await Promise.all([post(a, v2Body('evt_after_1', 'cs_\\ufffd')), post(b, v2Body('evt_after_2', 'cs_\\ufffd')), post(b, v2Body('evt_after_3', 'cs_other'))]);
    expect(accepted).toEqual([200, 200, 200].map((status) => ({ status, code: undefined })));

    await withClient(database.url, async (client) => {
      const ids = await client.query<{ id: string }>('SELECT id FROM events ORDER BY id');
      expect(ids.rows.map((row) => row.id)).toEqual(['evt_after_1', 'evt_after_2', 'evt_after_3']);
      // No transaction of either replica is left open or waiting on a lock.
      const held = await waitFor(async () => {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' OR wait_event_type = 'Lock')`,
        );
        return rows[0]!.n === 0 && rows;
      }, { timeoutMs: 5_000, what: 'no transaction held open on the database' });
      expect(held).toEqual([{ n: 0 }]);
    });
    for (const replica of replicas) expect((await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })).status).toBe(200);
  }, 90_000);
});

describe('a lone surrogate at a bridge process on SQLite', () => {
  it('is refused at once with 400 LONE_SURROGATE; the next webhooks are accepted and nothing of it is stored', async () => {
    let file = '';
    const [bridge] = (await startBridges(1, (dir) => ({ path: (file = join(dir, 'bridge.db')) }))) as [ChildBridge];

    await expectRefused([bridge]);
    // On SQLite a lone surrogate and U+FFFD would have been two calls: neither is half-stored now.
    const accepted = await Promise.all([post(bridge, v2Body('evt_after_1', 'cs_\\ufffd')), post(bridge, v2Body('evt_after_2', 'cs_other'))]);
    expect(accepted).toEqual([200, 200].map((status) => ({ status, code: undefined })));

    const reader = new Database(file, { readonly: true });
    try {
      const ids = reader.prepare('SELECT id FROM events ORDER BY id').all() as { id: string }[];
      expect(ids.map((row) => row.id)).toEqual(['evt_after_1', 'evt_after_2']);
      const calls = reader.prepare('SELECT call_id FROM calls ORDER BY call_id').all() as { call_id: string }[];
      expect(calls.map((row) => row.call_id)).toEqual(['cs_other', 'cs_\ufffd']);
    } finally {
      reader.close();
    }
    expect((await fetch(`${bridge.url}/readyz`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) })).status).toBe(200);
  }, 60_000);
});
