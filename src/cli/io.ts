import { readFileSync } from 'node:fs';
import { CliError, UsageError } from './errors.js';

export const DEFAULT_SECRET_ENV = 'AUDIAN_WEBHOOK_SECRET';

/** The webhook secret from the environment, so it never has to be in argv (visible in `ps`). */
export function secretFromEnv(name: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const secret = env[name];
  if (!secret) throw new UsageError(`${name} is not set: export the webhook secret in it, or name another variable with --secret-env`);
  return secret;
}

/** A file's bytes (or stdin's), with a one-line error for a file that cannot be read. */
export function readInput(file: string | undefined): Buffer {
  try {
    return readFileSync(file ?? 0);
  } catch (err) {
    throw new CliError(`cannot read ${file ?? 'stdin'}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}
