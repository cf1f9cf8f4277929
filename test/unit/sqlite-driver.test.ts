import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { DRIVER_PACKAGE, NODE_MAJOR } from '../../src/store/sqlite/driver.js';

const driver = fileURLToPath(new URL('../../dist/src/store/sqlite/driver.js', import.meta.url));

/**
 * Prepared statements that become garbage are collected between callbacks.
 * With better-sqlite3 12 built for Node 24.19 and newer, that aborts the
 * process (`Assertion failed: (env) != nullptr` in `Statement::~Statement`);
 * the driver chosen for this Node must survive it. The churn runs in a child
 * process, because the failure is an abort, not an exception.
 */
const CHURN = `
  const { default: Database } = await import(${JSON.stringify(driver)});
  const db = new Database(':memory:');
  let prepared = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < 2000; i++) db.prepare('SELECT ' + (prepared++ % 50)).get();
      if (prepared >= 200000) { clearInterval(timer); resolve(); }
    }, 1);
  });
  db.close();
  process.stdout.write('churned ' + prepared);
`;

it(`the SQLite driver for Node ${NODE_MAJOR} (${DRIVER_PACKAGE}) survives statements collected by the garbage collector`, () => {
  expect(existsSync(driver), 'build first: npm run build').toBe(true);
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHURN], { encoding: 'utf8', timeout: 60_000 });
  expect(child.stderr).not.toMatch(/Assertion failed/);
  expect(child.signal).toBeNull();
  expect(child.status).toBe(0);
  expect(child.stdout).toBe('churned 200000');
});
