import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { describeStoreContract } from '../contract/store.js';

// On a real file (WAL, synchronous=FULL), as the bridge runs it.
describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-'));
  const store = createSqliteStore(join(dir, 'bridge.db'));
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite: one serving process per file', () => {
  it('a second exclusive store on the file is refused with STORE_LOCKED until the first closes; a plain one opens beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-store-lock-'));
    const path = join(dir, 'not-yet', 'bridge.db'); // the folder is created, as for the embedded default
    try {
      const serving = createSqliteStore(path, { exclusive: true });
      expect(() => createSqliteStore(path, { exclusive: true })).toThrow(expect.objectContaining({ code: 'STORE_LOCKED' }));
      const maintenance = createSqliteStore(path);
      expect(await maintenance.list({})).toEqual([]);
      await maintenance.close();
      await serving.close();
      const next = createSqliteStore(path, { exclusive: true });
      await next.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
