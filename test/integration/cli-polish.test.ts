import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAudianHmac } from '../../src/verify/index.js';
import { baseConfig } from '../helpers/bridge.js';
import { CLI, runCli } from '../helpers/child-bridge.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-cli-polish-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  return runCli(args, { cwd: dir, ...(options.input === undefined ? {} : { input: options.input }), env: { AUDIAN_WEBHOOK_SECRET: '', ...options.env } });
}

const oneLine = (text: string) => text.trim().split('\n').length === 1 && !/\n\s+at /.test(text);

describe('audian-bridge --version and help', () => {
  it('--version prints the package version', async () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await cli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${manifest.version}\n` });
  });

  it('help lists every command; help COMMAND explains one; help of an unknown command is a usage error', async () => {
    const all = await cli(['help']);
    expect(all.code).toBe(0);
    for (const command of ['serve', 'check', 'sign', 'send', 'deliveries', 'replay', 'retry', 'events', 'pause', 'resume', 'help']) expect(all.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const sign = await cli(['help', 'sign']);
    expect(sign.code).toBe(0);
    expect(sign.stdout).toContain('--secret-env NAME');
    expect((await cli(['send', '--help'])).stdout).toContain('retry-storm');
    expect((await cli(['help', 'deliveries'])).stdout).toContain('deliveries purge --status dead');
    expect((await cli(['help', 'frobnicate'])).code).toBe(64);
  });
});

describe('audian-bridge sign', () => {
  const body = '{"id":"evt_sign","event":"call.ringing","data":{}}';

  it('takes the secret from AUDIAN_WEBHOOK_SECRET, or the variable --secret-env names', async () => {
    for (const [args, env] of [
      [['sign'], { AUDIAN_WEBHOOK_SECRET: 'whsec_env' }],
      [['sign', '--secret-env', 'OTHER_SECRET'], { OTHER_SECRET: 'whsec_env' }],
    ] as const) {
      const result = await cli([...args], { input: body, env });
      expect(result.code).toBe(0);
      const headers = Object.fromEntries(result.stdout.trim().split('\n').map((line) => line.split(': ') as [string, string]));
      expect(() => verifyAudianHmac({ rawBody: Buffer.from(body), headers, now: Date.now() }, { secrets: ['whsec_env'], toleranceSeconds: 300 })).not.toThrow();
    }
  });

  it('without the secret variable it is a one-line usage error naming it', async () => {
    const result = await cli(['sign', '--secret-env', 'NOT_SET_ANYWHERE'], { input: body });
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('NOT_SET_ANYWHERE');
  });

  it('--file of a missing file is a one-line error, no stack trace', async () => {
    const result = await cli(['sign', '--file', 'missing.json'], { env: { AUDIAN_WEBHOOK_SECRET: 's' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing.json');
    expect(oneLine(result.stderr)).toBe(true);
  });

  it('does not wait on a terminal: stdin as a TTY is a usage error', async () => {
    // `script` gives the command a pseudo-terminal as stdin.
    const command = `AUDIAN_WEBHOOK_SECRET=s ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} sign; echo "exit=$?"`;
    const child = execFile('script', ['-qec', command, '/dev/null'], { cwd: dir, timeout: 10_000 });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    expect(output).toContain('stdin is a terminal');
    expect(output).toContain('exit=64');
  });
});

describe('audian-bridge serve and the outbox commands', () => {
  it('a port in use is a one-line error naming host:port and the config key', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const path = join(dir, 'busy.yaml');
      writeFileSync(path, YAML.stringify(baseConfig(join(dir, 'busy'), { server: { host: '127.0.0.1', port } })));
      const result = await cli(['serve', '--config', path]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`127.0.0.1:${port}`);
      expect(result.stderr).toContain('server.port');
      expect(oneLine(result.stderr)).toBe(true);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('deliveries and retry on a missing database are an error and create no file', async () => {
    const path = join(dir, 'nodb.yaml');
    const database = join(dir, 'nodb', 'bridge.db');
    writeFileSync(path, YAML.stringify(baseConfig(join(dir, 'nodb'))));
    for (const args of [['deliveries'], ['retry', '1']]) {
      const result = await cli([...args, '--config', path]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(database);
      expect(result.stderr).toContain('store.path');
      expect(oneLine(result.stderr)).toBe(true);
    }
    expect(existsSync(database)).toBe(false);
    expect(existsSync(join(dir, 'nodb'))).toBe(false);
  });
});
