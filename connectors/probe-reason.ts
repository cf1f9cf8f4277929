import type { ProbeResult } from '../src/sdk/index.js';

/**
 * A network failure in words an operator acts on: `ECONNREFUSED at
 * 127.0.0.1:9092`, `DNS failure (ENOTFOUND crm.example.com)`, `TLS error
 * (CERT_HAS_EXPIRED: ...)`. Reads the error, its `cause` chain and an
 * AggregateError's `errors` (undici tries each address of a name), as fetch,
 * kafkajs and @slack/web-api wrap them.
 */
export function networkReason(err: unknown): string {
  const found = codedError(err);
  if (!found) return messageOf(err);
  const { code } = found;
  const at = whereOf(found);
  if (code === 'ECONNREFUSED') return `ECONNREFUSED at ${at ?? 'the target'}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return `DNS failure (${code}${found.hostname ?? found.broker ? ` ${found.hostname ?? found.broker}` : ''})`;
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return `connection reset (${code})${at ? ` at ${at}` : ''}`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `connect timeout (${code})${at ? ` at ${at}` : ''}`;
  if (TLS.test(code)) return `TLS error (${code}: ${found.message ?? ''})`;
  return `${code}${at ? ` at ${at}` : ''}: ${found.message ?? messageOf(err)}`;
}

/** OpenSSL's and Node's certificate and handshake error codes. */
const TLS = /CERT|SSL|TLS|EPROTO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH/;

interface Coded {
  readonly code: string;
  readonly message?: string;
  readonly address?: string;
  readonly port?: number;
  readonly hostname?: string;
  /** kafkajs: `host:port` of the broker. */
  readonly broker?: string;
}

/** The innermost error with a string `code`, so fetch's `fetch failed` gives way to its cause. */
function codedError(err: unknown): Coded | undefined {
  let found: Coded | undefined;
  let current: unknown = err;
  for (let depth = 0; depth < 10 && typeof current === 'object' && current !== null; depth++) {
    const candidate = current as Partial<Coded> & { cause?: unknown; errors?: unknown; original?: unknown };
    if (typeof candidate.code === 'string' && candidate.code !== '') found = { ...candidate, code: candidate.code, ...(found?.broker ? { broker: found.broker } : {}) };
    const inner = Array.isArray(candidate.errors) && candidate.errors.length > 0 ? candidate.errors[0] : (candidate.cause ?? candidate.original);
    if (inner === current) break;
    current = inner;
  }
  return found;
}

function whereOf(found: Coded): string | undefined {
  if (found.address !== undefined && found.port !== undefined) return found.address.includes(':') ? `[${found.address}]:${found.port}` : `${found.address}:${found.port}`;
  return found.broker;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `probe` with a deadline of its own, `timeoutMs`, so that the result
 * names the time waited (`timed out after 3000 ms`, after `label`), and ends
 * it early when `signal` aborts (shutdown, or the caller's own bound). The
 * probe gets a signal that aborts in either case, to close what it opened.
 */
export async function withDeadline(label: string, timeoutMs: number, signal: AbortSignal, probe: (signal: AbortSignal) => Promise<ProbeResult>): Promise<ProbeResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  const prefix = label === '' ? '' : `${label}: `;
  const stopped = (): ProbeResult =>
    timeout.aborted ? { ok: false, reason: `${prefix}timed out after ${timeoutMs} ms` } : { ok: false, reason: `${prefix}stopped before an answer` };
  let onAbort = () => undefined as void;
  const aborted = new Promise<ProbeResult>((resolve) => (onAbort = () => resolve(stopped())));
  both.addEventListener('abort', onAbort, { once: true });
  if (both.aborted) onAbort();
  try {
    return await Promise.race([probe(both), aborted]);
  } catch (err) {
    if (both.aborted) return stopped();
    throw err;
  } finally {
    both.removeEventListener('abort', onAbort);
  }
}
