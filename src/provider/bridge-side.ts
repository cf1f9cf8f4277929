import type { Logger } from 'pino';
import type { BridgeConfig } from '../config/load.js';
import type { ExpiringSecret } from '../verify/index.js';
import { resolveSecretFile } from './secrets-file.js';
import { createSecretFileWatcher } from './secret-watch.js';

/**
 * What the serving process does for its subscriptions: it keeps each
 * subscription's secrets file read (secret-watch.ts) and hands the secrets of
 * the files naming a source to that source's verification. A reload puts the
 * new config's files in force with `update`.
 */

export interface ProviderSideDeps {
  readonly config: BridgeConfig;
  readonly logger: Logger;
  /** How often the secrets files are compared when watching tells nothing (default 1 s). */
  readonly pollMs?: number;
}

/** Per source, the resolved secrets files of the subscriptions naming it. */
function filesBySource(config: BridgeConfig): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const subscription of config.subscriptions) {
    if (subscription.secret_file === undefined) continue;
    files.set(subscription.source, [...(files.get(subscription.source) ?? []), resolveSecretFile(subscription.secret_file)]);
  }
  return files;
}

export function createProviderSide(deps: ProviderSideDeps) {
  const watcher = createSecretFileWatcher({ logger: deps.logger, ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }) });
  let files = new Map<string, string[]>();

  function update(config: BridgeConfig): void {
    files = filesBySource(config);
    watcher.track([...files.values()].flat());
  }
  update(deps.config);

  return {
    /** The secrets the files of `source`'s subscriptions hold now, each with its expiry; read on every request. */
    secretsOf(source: string): readonly ExpiringSecret[] {
      const paths = files.get(source);
      return paths === undefined ? [] : paths.flatMap((path) => watcher.entries(path));
    },
    update,
    close(): void {
      watcher.close();
    },
  };
}

export type ProviderSide = ReturnType<typeof createProviderSide>;
