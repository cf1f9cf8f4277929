import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite driver for the running Node.js: better-sqlite3 13 (Node-API) on
 * Node 22 and newer, better-sqlite3 12 on Node 20.
 *
 * Why two: better-sqlite3 12 wraps its objects in Node's own `ObjectWrap`,
 * and since Node 24.19 that destructor asserts a current Environment. A
 * prepared statement collected by the garbage collector outside one (a GC
 * task between callbacks) aborts the whole process with `Assertion failed:
 * (env) != nullptr` in `Statement::~Statement` (WiseLibs/better-sqlite3#1515,
 * closed upstream without a fix for 12). Version 13 is built on Node-API and
 * does not have the problem, but it requires Node 22 and crashes on Node 20.
 * Both have the same JavaScript API. `test/unit/sqlite-driver.test.ts` holds
 * the reproduction: statements churned through the garbage collector in a
 * child process that must exit cleanly.
 */
const require = createRequire(import.meta.url);

/** Node's major version; the driver is chosen by it alone. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The package the driver is loaded from: `better-sqlite3-napi` is the npm alias of better-sqlite3 13. */
export const DRIVER_PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

const Database = require(DRIVER_PACKAGE) as typeof BetterSqlite3;

export default Database;
