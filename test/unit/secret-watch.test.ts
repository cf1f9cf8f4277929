import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createSecretFileWatcher } from '../../src/provider/secret-watch.js';
import { waitFor } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-secret-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the secrets file watcher', () => {
  it('where the directory cannot be watched, the periodic check still sees a new file within its interval', async () => {
    const file = join(dir, 'nested', 'calls');
    const watcher = createSecretFileWatcher({
      logger: pino({ level: 'silent' }),
      pollMs: 200,
      watch: (() => {
        throw Object.assign(new Error('not supported'), { code: 'ENOSYS' });
      }) as never,
    });
    try {
      watcher.track([file]);
      expect(watcher.entries(file)).toEqual([]);
      writeFileSync(file, 'whsec_a\nwhsec_b expires=2030-01-01T00:00:00Z\nnot two words here\n');
      const started = Date.now();
      await waitFor(() => watcher.entries(file).length === 2, { timeoutMs: 2_000, intervalMs: 20, what: 'the file read by the periodic check' });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(watcher.entries(file)).toEqual([{ secret: 'whsec_a' }, { secret: 'whsec_b', expiresAt: Date.parse('2030-01-01T00:00:00Z') }]);
      rmSync(file);
      await waitFor(() => watcher.entries(file).length === 0, { timeoutMs: 2_000, intervalMs: 20, what: 'a removed file holding no secrets' });
      // Untracked: forgotten.
      watcher.track([]);
      writeFileSync(file, 'whsec_c\n');
      expect(watcher.entries(file)).toEqual([]);
    } finally {
      watcher.close();
    }
  });
});
