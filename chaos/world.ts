import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startBroker, type Broker } from '../bench/broker.js';
import { freePort } from '../scripts/kafka-broker.js';
import { databaseUrl, startScriptPostgres, type ScriptPostgres } from '../scripts/postgres-server.js';
import { KAFKA_TOPIC, writeConfig, type ConfigInputs, type Variant } from './config.js';
import type { Evidence } from './ledger.js';
import type { FaultActions } from './nemesis.js';
import { fillDisk, holdWriteLock, mountTmpfs, postgresView, sqliteView, startBridgeProcess, unmountTmpfs, type BridgeProcess, type StoreView } from './processes.js';
import type { FaultKind } from './schedule.js';
import { createFileTail, startCrm, startSlack } from './sinks.js';

/**
 * Everything a chaos run starts itself: its own Kafka broker (never the test
 * suite's), its own PostgreSQL server for `--store postgres`, the CRM and Slack
 * stand-ins, and the bridge's replicas; and the fault actions on them.
 */

/** The tmpfs that holds the SQLite file: small, so filling it costs little memory. */
const TMPFS_MB = 128;

export interface WorldOptions {
  readonly store: 'sqlite' | 'postgres';
  readonly replicas: number;
  /** Leave the run's folder behind (its path is printed). */
  readonly keep?: boolean;
}

export type World = Awaited<ReturnType<typeof startWorld>>;

export async function startWorld(options: WorldOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'audian-bridge-chaos-'));
  const cleanups: (() => Promise<void> | void)[] = [() => (options.keep ? console.log(`chaos: the run's folder is kept: ${dir}`) : rmSync(dir, { recursive: true, force: true }))];
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      for (const step of cleanups.reverse()) await Promise.resolve(step()).catch(() => undefined);
    })());
  try {
    // The broker's JVM takes the longest to start: the store starts meanwhile.
    const starting = startBroker().then((broker) => {
      cleanups.push(() => broker.destroy());
      return broker;
    });
    const store = await startStore(options.store, dir, cleanups).finally(() => starting.catch(() => undefined));
    const broker = await starting;
    await broker.createTopic(KAFKA_TOPIC, 3);
    const crm = await startCrm('crm');
    cleanups.push(() => crm.close());
    const slack = await startSlack('slack');
    cleanups.push(() => slack.slack.close());
    const transcriptsDir = join(dir, 'transcripts');
    const replicas: { bridge: BridgeProcess; configPath: string; inputs: ConfigInputs; tail: ReturnType<typeof createFileTail> }[] = [];
    for (let index = 0; index < options.replicas; index++) {
      const replicaDir = join(dir, `replica-${index}`);
      mkdirSync(replicaDir, { recursive: true });
      const port = await freePort();
      const inputs: ConfigInputs = { archivePath: join(replicaDir, 'events.jsonl'), transcriptsDir, port, store: store.config, brokers: broker.brokers, crmUrl: crm.url, slackApiUrl: slack.slack.apiUrl };
      const configPath = join(replicaDir, 'config.yaml');
      writeConfig(configPath, inputs, 0);
      const bridge = await startBridgeProcess(configPath, `http://127.0.0.1:${port}`, join(replicaDir, 'bridge.log'));
      cleanups.push(() => bridge.stop());
      replicas.push({ bridge, configPath, inputs, tail: createFileTail('archive', inputs.archivePath) });
    }
    return { dir, broker, store, crm, slack, replicas, transcriptsDir, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

interface StoreSetup {
  readonly config: { path: string } | { url: string };
  readonly view: StoreView;
  readonly server?: ScriptPostgres;
  /** The SQLite file's folder, on a tmpfs when `tmpfsProblem` is undefined. */
  readonly sqliteDir?: string;
  readonly sqlitePath?: string;
  readonly tmpfsProblem?: string;
}

async function startStore(kind: 'sqlite' | 'postgres', dir: string, cleanups: (() => Promise<void> | void)[]): Promise<StoreSetup & { view: StoreView }> {
  if (kind === 'postgres') {
    const server = await startScriptPostgres();
    cleanups.push(() => server.destroy());
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE chaos').finally(() => admin.end());
    const url = databaseUrl(server.url, 'chaos');
    let view: StoreView | undefined;
    cleanups.push(() => view?.close());
    // The view opens lazily: the bridge creates the tables.
    const lazy: StoreView = {
      pending: () => (view ??= postgresView(url)).pending(),
      dead: () => (view ??= postgresView(url)).dead(),
      sizeMb: () => (view ??= postgresView(url)).sizeMb(),
      close: async () => undefined,
    };
    return { config: { url }, view: lazy, server };
  }
  const sqliteDir = join(dir, 'db');
  const tmpfsProblem = mountTmpfs(sqliteDir, TMPFS_MB);
  if (tmpfsProblem === undefined) cleanups.push(() => unmountTmpfs(sqliteDir));
  const sqlitePath = join(sqliteDir, 'bridge.db');
  let view: StoreView | undefined;
  cleanups.push(() => view?.close());
  const lazy: StoreView = {
    pending: () => (view ??= sqliteView(sqlitePath)).pending(),
    dead: () => (view ??= sqliteView(sqlitePath)).dead(),
    sizeMb: () => (view ??= sqliteView(sqlitePath)).sizeMb(),
    close: async () => undefined,
  };
  return { config: { path: sqlitePath }, view: lazy, sqliteDir, sqlitePath, ...(tmpfsProblem ? { tmpfsProblem } : {}) };
}

/** Restarts a killed replica, again and again for up to a minute: a held lock or a full disk may fail its first start. */
async function restartBridge(bridge: BridgeProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await bridge.restart();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

export interface ReloadRecord {
  readonly at: number;
  readonly variant: Variant;
}

/** The fault actions on `world`, and the kinds it cannot inject with why. */
export function faultActions(world: World, kills: Evidence['kills'][number][], reloads: ReloadRecord[]): { actions: FaultActions; notInjected: Partial<Record<FaultKind, string>> } {
  const ends = { now: async () => undefined };
  let variant: Variant = 0;
  const actions: FaultActions = {
    'broker-kill': async () => {
      kills.push({ what: 'broker', at: Date.now() });
      await world.broker.kill();
      return () => world.broker.restart();
    },
    'slack-429': async () => {
      world.slack.storm(true);
      return async () => world.slack.storm(false);
    },
    'bridge-kill': async (fault) => {
      const { bridge } = world.replicas[fault.replica]!;
      kills.push({ what: 'bridge', at: Date.now() });
      await bridge.kill();
      return () => restartBridge(bridge);
    },
    reload: async () => {
      variant = variant === 0 ? 1 : 0;
      reloads.push({ at: Date.now(), variant });
      for (const replica of world.replicas) {
        writeConfig(replica.configPath, replica.inputs, variant);
        replica.bridge.hangUp();
      }
      return ends.now;
    },
  };
  for (const mode of ['500', '429', 'hang', 'reset'] as const) {
    actions[`crm-${mode}`] = async () => {
      world.crm.setMode(mode);
      return async () => world.crm.setMode('ok');
    };
  }
  const { store } = world;
  if (store.server) {
    const server = store.server;
    actions['postgres-restart'] = async () => {
      await server.stop();
      return () => server.restart();
    };
  }
  if (store.sqlitePath) {
    const path = store.sqlitePath;
    actions['write-lock'] = async () => {
      const release = holdWriteLock(path);
      return async () => release();
    };
  }
  const notInjected: Partial<Record<FaultKind, string>> = {};
  if (store.sqliteDir && store.tmpfsProblem === undefined) {
    const sqliteDir = store.sqliteDir;
    actions['disk-full'] = async () => {
      const free = fillDisk(sqliteDir);
      return async () => free();
    };
  } else if (store.sqliteDir) notInjected['disk-full'] = store.tmpfsProblem;
  return { actions, notInjected };
}

export type { Broker };
