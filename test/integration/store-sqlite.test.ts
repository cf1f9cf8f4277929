import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
