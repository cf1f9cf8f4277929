import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, postWebhook, TEST_SECRET } from '../helpers/bridge.js';
import { runCli, startChildBridge, stopChildBridge, type ChildBridge } from '../helpers/child-bridge.js';
import { startFakeAudian, type FakeAudian } from '../helpers/fake-audian.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../../scripts/kafka-broker.js';

/**
 * `subscriptions rotate` with the bridge running as a process while the fake
 * provider sends signed webhooks without a pause and switches to the new
 * secret a moment after answering rotate-secret: no webhook is refused
 * before, during or after, and the old secret is refused once the overlap is
 * over, with no further command.
 */

const TOKEN = 'tok_rotate_never_printed_19be';
const OVERLAP_MS = 5_000;
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-subs-rotate-'));
let fake: FakeAudian;
let bridge: ChildBridge | undefined;
beforeAll(async () => {
  // No retries: a refused webhook stays visible as a failed delivery.
  fake = await startFakeAudian({ token: TOKEN, rotateSwitchMs: 300, deliveryRetryDelaysMs: [] });
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});
afterEach(async () => {
  if (bridge) {
    await stopChildBridge(bridge);
    expect(bridge.output()).not.toContain(TOKEN);
  }
  bridge = undefined;
});

async function setup(name: string) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    YAML.stringify(
      baseConfig(dir, {
        server: { host: '127.0.0.1', port },
        provider: { url: fake.url, token: '${AUDIAN_API_TOKEN}', account_id: fake.accountId },
        subscriptions: [
          { name, source: 'main', url: `http://127.0.0.1:${port}/webhooks/audian`, secret_file: join(dir, 'secrets', name) },
          { name: `${name}-legacy`, source: 'main', url: `http://127.0.0.1:${port}/webhooks/audian`, api: 'accounts', hooks: ['channel_create'] },
        ],
      }),
    ),
  );
  const cli = async (args: string[]) => {
    const result = await runCli(['subscriptions', ...args, '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN } });
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
    return result;
  };
  expect((await cli(['apply', '--yes'])).code).toBe(0);
  return { dir, configPath, port, cli, secretFile: join(dir, 'secrets', name) };
}

describe('subscriptions rotate', { timeout: 90_000 }, () => {
  it('webhooks sent without a pause are all accepted across the rotation; the old secret is refused after the overlap', async () => {
    const { configPath, cli, secretFile, port } = await setup('rot');
    bridge = await startChildBridge(configPath, { env: { AUDIAN_API_TOKEN: TOKEN } });
    const webhook = [...fake.webhooks.values()].find((item) => item.description === 'audian-bridge:rot')!;
    const oldSecret = webhook.secret;

    // The provider sends one event after another, each signed with the secret in force when it goes out.
    let sending = true;
    const sent: string[] = [];
    const traffic = (async () => {
      const deadline = Date.now() + 60_000;
      while (sending && Date.now() < deadline) {
        sent.push((await fake.emit('call.completed')).id);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await waitFor(() => sent.length >= 10, { timeoutMs: 10_000, what: 'traffic before the rotation' });

    const rotated = await cli(['rotate', 'rot', '--overlap', '5s', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const answer = JSON.parse(rotated.stdout) as { webhookId: string; olderAccepted: number; acceptedUntil: string; secret?: string };
    expect(answer).toMatchObject({ webhookId: webhook.id, olderAccepted: 1 });
    expect(answer.secret).toBeUndefined();
    const rotation = fake.rotations.at(-1)!;
    expect(Date.parse(answer.acceptedUntil) - rotation.answeredAt).toBeGreaterThan(OVERLAP_MS - 1_000);
    expect(Date.parse(answer.acceptedUntil) - rotation.answeredAt).toBeLessThanOrEqual(OVERLAP_MS + 3_000);
    expect(readFileSync(secretFile, 'utf8')).toBe(`${rotation.secret}\n${oldSecret} expires=${answer.acceptedUntil}\n`);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);

    // Through the switch and past the end of the overlap.
    await waitFor(() => Date.now() > Date.parse(answer.acceptedUntil) + 1_000, { timeoutMs: 15_000 });
    sending = false;
    await traffic;
    await fake.settled();

    const attempts = fake.deliveries.filter((delivery) => delivery.webhookId === webhook.id);
    const refused = attempts.filter((delivery) => delivery.status !== 200);
    expect(refused, 'no webhook refused before, during or after the rotation').toEqual([]);
    expect(attempts.filter((delivery) => delivery.secret === oldSecret).length).toBeGreaterThan(5);
    expect(attempts.filter((delivery) => delivery.secret === rotation.secret && delivery.at > Date.parse(answer.acceptedUntil)).length).toBeGreaterThan(5);

    // With the overlap over, the old secret is refused, and nothing else was needed.
    const body = { id: 'evt_after_overlap', event: 'call.completed', timestamp: new Date().toISOString(), data: { call_id: 'c-after' } };
    const old = await postWebhook(`http://127.0.0.1:${port}/webhooks/audian`, body, { secret: oldSecret });
    expect(old.status).toBe(401);
    expect(old.body.error?.code).toBe('SIGNATURE_MISMATCH');
    expect((await postWebhook(`http://127.0.0.1:${port}/webhooks/audian`, body, { secret: rotation.secret })).status).toBe(200);
    // The source's own configured secret was never touched.
    expect((await postWebhook(`http://127.0.0.1:${port}/webhooks/audian`, { ...body, id: 'evt_own' }, { secret: TEST_SECRET })).status).toBe(200);
  });

  it('the accounts API has no rotate-secret: refused with a clear code; an unknown name is a usage error; --show-secret prints the secret', async () => {
    const { cli } = await setup('acc');
    const shown = await cli(['rotate', 'acc', '--show-secret', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect((JSON.parse(shown.stdout) as { secret: string }).secret).toBe(fake.rotations.at(-1)!.secret);
    const refused = await cli(['rotate', 'acc-legacy']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('SUBSCRIPTION_UNSUPPORTED');
    expect((await cli(['rotate', 'nope'])).code).toBe(64);
    expect((await cli(['rotate', 'acc', '--overlap', '5'])).code).toBe(64);
  });
});
