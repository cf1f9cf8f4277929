import type { rawViewOf } from '../ops/operations.js';

/** Characters of a kept body the event page shows; the whole body is in `GET /admin/events/{id}`. */
export const RAW_BODY_SHOWN = 64 * 1024;

type RawView = NonNullable<ReturnType<typeof rawViewOf>>;

/** The request an event arrived in, as the event page shows it: headers whole, the body as text, cut past `RAW_BODY_SHOWN`. */
export interface RawDisplay {
  readonly headers: RawView['headers'];
  readonly bytes: number;
  readonly body: string;
  /** The body is longer than what is shown. */
  readonly cut: boolean;
  /** The body is not UTF-8: shown with replacement characters (the API gives it in base64). */
  readonly binary: boolean;
}

export function rawDisplayOf(raw: RawView | null): RawDisplay | undefined {
  if (raw === null) return undefined;
  const binary = raw.encoding === 'base64';
  const text = binary ? Buffer.from(raw.body, 'base64').toString('utf8') : raw.body;
  return { headers: raw.headers, bytes: raw.bytes, body: text.slice(0, RAW_BODY_SHOWN), cut: text.length > RAW_BODY_SHOWN, binary };
}
