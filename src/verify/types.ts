/** Request headers as Node delivers them: lower-case names. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface VerifyInput {
  /** The body exactly as received, before any parsing. */
  readonly rawBody: Buffer;
  readonly headers: RequestHeaders;
  /** Current time in milliseconds since the epoch; passed in so verification stays pure. */
  readonly now: number;
}

/** A secret accepted until `expiresAt` (ms since the epoch); without it, until it is removed. */
export interface ExpiringSecret {
  readonly secret: string;
  readonly expiresAt?: number;
}

/** Throws a `VerificationError` when the request is not proven genuine; returns nothing otherwise. */
export interface Verifier {
  /**
   * The checks that need no body (headers present and well-formed, timestamp
   * window), run before the body is read so unauthenticated requests cost no body bytes.
   */
  checkHeaders(headers: RequestHeaders, now: number): void;
  /** The whole verification, headers included. */
  verify(input: VerifyInput): void;
  /** The headers it reads (lower-case): their values are never kept with the request (`store.keep_raw`). */
  readonly secretHeaders: readonly string[];
}

export function singleHeader(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
