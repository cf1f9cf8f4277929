/** Request headers as Node delivers them: lower-case names. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface VerifyInput {
  /** The body exactly as received, before any parsing. */
  readonly rawBody: Buffer;
  readonly headers: RequestHeaders;
  /** Current time in milliseconds since the epoch; passed in so verification stays pure. */
  readonly now: number;
}

/** Throws a `VerificationError` when the request is not proven genuine; returns nothing otherwise. */
export type Verifier = (input: VerifyInput) => void;

export function singleHeader(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
