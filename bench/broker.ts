import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

const SCRIPT = fileURLToPath(new URL('../../scripts/kafka.sh', import.meta.url));
/** scripts/kafka.sh's exit code when Java or Maven is missing. */
export const TOOLS_MISSING = 3;

export class BrokerUnavailable extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function script(command: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface Broker {
  readonly brokers: string;
  stop(): Promise<void>;
  /** Starts it again with its data (topics and messages kept). */
  restart(): Promise<void>;
  destroy(): Promise<void>;
  createTopic(topic: string, partitions: number): Promise<void>;
}

/** A broker of the benchmark's own (scripts/kafka.sh, free ports, its own run directory): stopping it touches nobody else's. */
export async function startBroker(): Promise<Broker> {
  const runDir = mkdtempSync(join(tmpdir(), 'audian-bridge-bench-kafka-'));
  const env = { KAFKA_RUN_DIR: runDir, KAFKA_PORT: String(await freePort()), KAFKA_CONTROLLER_PORT: String(await freePort()), KAFKA_AUTO_CREATE: 'false' };
  const start = async (keep: boolean) => {
    const result = await script('start', { ...env, KAFKA_KEEP_DATA: keep ? '1' : '0' });
    const brokers = /^KAFKA_BROKERS=(\S+)$/m.exec(result.stdout)?.[1];
    if (result.code !== 0 || !brokers) throw new BrokerUnavailable(result.code, `scripts/kafka.sh start failed (exit ${result.code}): ${result.stderr.trim().slice(-500)}`);
    return brokers;
  };
  const stop = async () => {
    const result = await script('stop', env);
    if (result.code !== 0) throw new Error(`scripts/kafka.sh stop failed (exit ${result.code}): ${result.stderr.trim().slice(-500)}`);
  };
  let brokers: string;
  try {
    brokers = await start(false);
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers,
    stop,
    restart: async () => void (await start(true)),
    async destroy() {
      try {
        await stop();
      } finally {
        rmSync(runDir, { recursive: true, force: true });
      }
    },
    async createTopic(topic, partitions) {
      const admin = new Kafka({ clientId: 'audian-bridge-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true, timeout: 15_000 });
      } finally {
        await admin.disconnect();
      }
    },
  };
}
