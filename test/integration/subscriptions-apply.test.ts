import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseConfig } from '../helpers/bridge.js';
import { runCli } from '../helpers/child-bridge.js';
import { startFakeAudian, type FakeAudian } from '../helpers/fake-audian.js';

/**
 * `subscriptions plan` and `apply` against the fake Audian API (both API
 * styles, lists read page by page): from an empty account to the config, a
 * second apply that changes nothing, changes updated in place, foreign
 * webhooks left alone, and owned ones deleted only with --prune.
 */

const TOKEN = 'tok_apply_never_printed_5e1d';
const root = mkdtempSync(join(tmpdir(), 'audian-bridge-subs-apply-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let fake: FakeAudian;
let dir: string;
let count = 0;
beforeEach(async () => {
  fake = await startFakeAudian({ token: TOKEN, pageSize: 2, accountsPageSize: 1 });
  dir = join(root, `case-${++count}`);
  mkdirSync(dir, { recursive: true });
});
afterEach(async () => {
  await fake.close();
});

interface Subscription {
  name: string;
  api?: 'webhooks' | 'accounts';
  events?: string[];
  hooks?: string[];
  url?: string;
}

function writeConfig(subscriptions: Subscription[]): string {
  const path = join(dir, 'config.yaml');
  const config = baseConfig(dir, {
    provider: { url: fake.url, token: '${AUDIAN_API_TOKEN}', account_id: fake.accountId, timeout: '2s' },
    subscriptions: subscriptions.map((subscription) => ({
      source: 'main',
      url: subscription.url ?? 'https://bridge.example.com/webhooks/audian',
      ...subscription,
      ...(subscription.api === 'accounts' ? {} : { secret_file: join(dir, 'secrets', subscription.name) }),
    })),
  });
  writeFileSync(path, YAML.stringify(config));
  return path;
}

async function cli(args: string[], configPath: string) {
  const result = await runCli(['subscriptions', ...args, '--config', configPath], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN } });
  // The token never reaches the output, whatever the command did.
  expect(result.stdout + result.stderr).not.toContain(TOKEN);
  return result;
}

const json = (stdout: string) => JSON.parse(stdout) as { changes: boolean; counts: Record<string, number>; actions: { action: string; id?: string; subscription: string }[]; applied?: { action: string; id: string; secret?: string }[] };
const changingCalls = () => fake.calls.filter((call) => call.method !== 'GET');

describe('subscriptions plan and apply', { timeout: 90_000 }, () => {
  it('from an empty account: plan says what to create (exit 3), apply creates it and writes the secret 0600, a second apply changes nothing', async () => {
    const config = writeConfig([
      { name: 'calls', events: ['*'] },
      { name: 'legacy', api: 'accounts', hooks: ['channel_create', 'channel_destroy'] },
    ]);
    const planned = await cli(['plan', '--json'], config);
    expect(planned.code, planned.stderr).toBe(3);
    expect(json(planned.stdout).counts).toMatchObject({ create: 3, update: 0, delete: 0, inStep: 0 });
    expect(changingCalls()).toEqual([]);

    const applied = await cli(['apply', '--yes', '--json'], config);
    expect(applied.code, applied.stderr).toBe(0);
    expect(json(applied.stdout).applied!.map((step) => step.action)).toEqual(['create', 'create', 'create']);
    expect(json(applied.stdout).applied!.some((step) => step.secret !== undefined)).toBe(false);

    const [webhook] = [...fake.webhooks.values()];
    expect(webhook).toMatchObject({ url: 'https://bridge.example.com/webhooks/audian', events: ['*'], active: true, description: 'audian-bridge:calls' });
    expect([...fake.accountWebhooks.values()].map((item) => [item.name, item.hook, item.httpVerb]).sort()).toEqual([
      ['audian-bridge:legacy', 'channel_create', 'post'],
      ['audian-bridge:legacy', 'channel_destroy', 'post'],
    ]);
    const secretFile = join(dir, 'secrets', 'calls');
    expect(readFileSync(secretFile, 'utf8')).toBe(`${webhook!.secret}\n`);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    // Every call carried the token, and only the documented verbs were used.
    expect(fake.calls.every((call) => call.token === TOKEN)).toBe(true);
    expect(changingCalls().map((call) => `${call.method} ${call.path}`).sort()).toEqual([
      'POST /v2/webhooks',
      `PUT /v2/accounts/${fake.accountId}/webhooks`,
      `PUT /v2/accounts/${fake.accountId}/webhooks`,
    ]);

    fake.calls.length = 0;
    const second = await cli(['apply', '--yes'], config);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('nothing to change');
    expect(changingCalls()).toEqual([]);
    const again = await cli(['plan'], config);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 to create, 0 to update, 0 to delete, 3 in step');
  });

  it('a changed events list or URL is updated in place: PATCH on the webhooks API, POST on the accounts API', async () => {
    const first = writeConfig([{ name: 'calls', events: ['call.completed'] }, { name: 'legacy', api: 'accounts', hooks: ['channel_create'] }]);
    expect((await cli(['apply', '--yes'], first)).code).toBe(0);
    const webhookId = [...fake.webhooks.keys()][0]!;
    const accountWebhookId = [...fake.accountWebhooks.keys()][0]!;
    const secret = readFileSync(join(dir, 'secrets', 'calls'), 'utf8');
    fake.calls.length = 0;

    const changed = writeConfig([
      { name: 'calls', events: ['call.completed', 'call.failed'] },
      { name: 'legacy', api: 'accounts', hooks: ['channel_create'], url: 'https://bridge.example.com/webhooks/v2/audian' },
    ]);
    const planned = await cli(['plan'], changed);
    expect(planned.code).toBe(3);
    expect(planned.stdout).toMatch(/~ update\s+wh_\w+: events \[call\.completed\] -> \[call\.completed, call\.failed\]/);
    expect((await cli(['apply', '--yes'], changed)).code).toBe(0);
    expect(changingCalls().map((call) => `${call.method} ${call.path}`).sort()).toEqual([
      `PATCH /v2/webhooks/${webhookId}`,
      `POST /v2/accounts/${fake.accountId}/webhooks/${accountWebhookId}`,
    ]);
    expect(changingCalls().find((call) => call.method === 'POST')!.body).toEqual({ data: { enabled: true, uri: 'https://bridge.example.com/webhooks/v2/audian' } });
    expect(fake.webhooks.get(webhookId)!.events).toEqual(['call.completed', 'call.failed']);
    expect(fake.accountWebhooks.get(accountWebhookId)!.uri).toBe('https://bridge.example.com/webhooks/v2/audian');
    // The webhook kept its id and its secret: nothing was deleted and made again.
    expect(readFileSync(join(dir, 'secrets', 'calls'), 'utf8')).toBe(secret);
  });

  it('webhooks of the account made for other purposes are never changed or deleted, even across pages and with --prune', async () => {
    const foreign = [
      fake.addForeignWebhook({ url: 'https://crm.example.com/hooks', description: 'the CRM' }),
      fake.addForeignWebhook({ url: 'https://bridge.example.com/webhooks/audian' }),
      fake.addForeignWebhook({ url: 'https://other.example.com/x', description: 'audian-bridge' }),
    ];
    const config = writeConfig([{ name: 'calls' }]);
    const planned = await cli(['plan', '--prune'], config);
    expect(planned.stdout).toContain('left alone: 3 webhook(s)');
    // The one to the same URL is named: its deliveries would be signed with a secret the bridge does not hold.
    expect(planned.stdout).toContain(`warning: webhooks API webhook ${foreign[1]!.id} was not created by this bridge`);
    expect((await cli(['apply', '--yes', '--prune'], config)).code).toBe(0);
    expect((await cli(['apply', '--yes', '--prune'], config)).stdout).toContain('nothing to change');
    for (const webhook of foreign) expect(fake.webhooks.get(webhook.id)).toEqual(webhook);
    expect(changingCalls().map((call) => `${call.method} ${call.path}`)).toEqual(['POST /v2/webhooks']);
    // Four webhooks in pages of two: the owned one on the second page was found, not made twice.
    expect(fake.webhooks.size).toBe(4);
  });

  it('an owned webhook no longer configured is deleted only with --prune; a hook removed likewise', async () => {
    const both = writeConfig([{ name: 'calls' }, { name: 'old' }, { name: 'legacy', api: 'accounts', hooks: ['channel_create', 'channel_answer'] }]);
    expect((await cli(['apply', '--yes'], both)).code).toBe(0);
    const oldId = [...fake.webhooks.values()].find((webhook) => webhook.description === 'audian-bridge:old')!.id;
    const answerHook = [...fake.accountWebhooks.values()].find((webhook) => webhook.hook === 'channel_answer')!.id;
    fake.calls.length = 0;

    const fewer = writeConfig([{ name: 'calls' }, { name: 'legacy', api: 'accounts', hooks: ['channel_create'] }]);
    const planned = await cli(['plan'], fewer);
    expect(planned.code, 'nothing changes without --prune').toBe(0);
    expect(planned.stdout).toContain(`- delete with --prune ${oldId} (no longer configured)`);
    expect(planned.stdout).toContain(`- delete with --prune ${answerHook} hook channel_answer`);
    expect((await cli(['apply', '--yes'], fewer)).stdout).toContain('nothing to change');
    expect(fake.webhooks.has(oldId)).toBe(true);

    expect((await cli(['plan', '--prune'], fewer)).code).toBe(3);
    const pruned = await cli(['apply', '--yes', '--prune'], fewer);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(fake.webhooks.has(oldId)).toBe(false);
    expect(fake.accountWebhooks.has(answerHook)).toBe(false);
    expect(changingCalls().map((call) => `${call.method} ${call.path}`).sort()).toEqual([
      `DELETE /v2/accounts/${fake.accountId}/webhooks/${answerHook}`,
      `DELETE /v2/webhooks/${oldId}`,
    ]);
  });

  it('a webhook whose secret never reached the file gets one from rotate-secret on the next apply', async () => {
    const config = writeConfig([{ name: 'calls' }]);
    // The create answer is lost: the webhook exists at the provider, its secret nowhere here.
    fake.inject({ method: 'POST', path: /^\/v2\/webhooks$/, answer: 'hang' });
    const lost = await runCli(['subscriptions', 'apply', '--yes', '--config', config], { cwd: dir, env: { AUDIAN_API_TOKEN: TOKEN } });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('PROVIDER_TIMEOUT');
    expect(fake.webhooks.size).toBe(0);
    // (The hang kept the request from the fake's handler; make the webhook exist as if it had been created.)
    const made = fake.addForeignWebhook({ url: 'https://bridge.example.com/webhooks/audian', description: 'audian-bridge:calls' });
    const planned = await cli(['plan'], config);
    expect(planned.code).toBe(3);
    expect(planned.stdout).toContain(`~ secret      ${made.id}`);
    const applied = await cli(['apply', '--yes'], config);
    expect(applied.code, applied.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(readFileSync(join(dir, 'secrets', 'calls'), 'utf8')).toBe(`${fake.webhooks.get(made.id)!.secret}\n`);
    expect(fake.webhooks.size).toBe(1);
  });

  it('apply without --yes and without a terminal refuses (exit 64); no provider section is a config error (exit 2)', async () => {
    const config = writeConfig([{ name: 'calls' }]);
    const refused = await cli(['apply'], config);
    expect(refused.code).toBe(64);
    expect(changingCalls()).toEqual([]);
    const bare = join(dir, 'bare.yaml');
    writeFileSync(bare, YAML.stringify(baseConfig(dir)));
    expect((await cli(['plan'], bare)).code).toBe(2);
  });
});
