import type { RawRequest } from '../lifecycle/types.js';

/** What a kept header's value reads when its value was not kept. */
export const REDACTED = '[redacted]';

/** Headers whose values are credentials wherever they appear: never kept, whatever a source verifies with. */
const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie'];

/**
 * Bytes of header names and values kept per request. Node refuses headers
 * past 16 KiB (`--max-http-header-size`), so this only bounds a server
 * started with a larger limit: the headers past it are not kept.
 */
export const RAW_HEADER_BYTES = 32 * 1024;

/** The request as the store keeps it: the body as received, the headers without any secret value. */
export interface KeptRaw {
  readonly body: Uint8Array;
  readonly headers: readonly (readonly [name: string, value: string])[];
}

/** `raw` as it may be kept: each secret header's value replaced by `REDACTED`, the headers bounded by `RAW_HEADER_BYTES`. */
export function keptRaw(raw: RawRequest): KeptRaw {
  const hidden = new Set([...CREDENTIAL_HEADERS, ...(raw.secretHeaders ?? []).map((name) => name.toLowerCase())]);
  const headers: (readonly [string, string])[] = [];
  let bytes = 0;
  for (const [name, value] of raw.headers) {
    const kept = hidden.has(name.toLowerCase()) ? REDACTED : value;
    bytes += name.length + kept.length;
    if (bytes > RAW_HEADER_BYTES) break;
    headers.push([name, kept]);
  }
  return { body: raw.body, headers };
}

/** The headers as the stores' `raw_headers` column holds them: a JSON array of `[name, value]` pairs. */
export function encodeRawHeaders(headers: KeptRaw['headers']): string {
  return JSON.stringify(headers);
}

/** `{raw}` read back from the columns `raw_body` and `raw_headers`; nothing when none was kept. */
export function withRaw(body: Uint8Array | null, headers: string | null): { raw?: KeptRaw } {
  if (body === null || headers === null) return {};
  return { raw: { body, headers: JSON.parse(headers) as [string, string][] } };
}
