/**
 * Every error the bridge raises on purpose. Each carries a stable `code` that
 * tests, logs and HTTP clients rely on; messages may change, codes may not.
 * Errors become HTTP responses in exactly one place: `src/http/error-handler.ts`.
 */

export type ErrorCode =
  // the request itself
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BODY_TOO_LARGE'
  | 'BODY_UNREADABLE'
  | 'INVALID_JSON'
  | 'JSON_TOO_DEEP'
  | 'FORBIDDEN_JSON_KEY'
  | 'NOT_AN_OBJECT'
  | 'UNKNOWN_DIALECT'
  | 'DIALECT_NOT_ACCEPTED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  // verification
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_MISMATCH'
  | 'TIMESTAMP_MISSING'
  | 'TIMESTAMP_INVALID'
  | 'TIMESTAMP_OUT_OF_TOLERANCE'
  | 'AUTH_HEADER_MISSING'
  | 'AUTH_HEADER_MISMATCH'
  // the service
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL_ERROR'
  | 'SHUTTING_DOWN'
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  // one problem inside a config document (ConfigError.issues)
  | 'CONFIG_SYNTAX'
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_MISSING_KEY'
  | 'CONFIG_BAD_VALUE'
  | 'CONFIG_ENV_MISSING'
  | 'CONFIG_DUPLICATE'
  | 'CONFIG_UNKNOWN_REFERENCE'
  | 'CONFIG_UNVERIFIED_SOURCE';

export class BridgeError extends Error {
  readonly code: ErrorCode;
  /** HTTP status used when the error reaches a client. */
  readonly status: number;
  /** Whether `message` may be shown to the client (never true for anything holding secrets). */
  readonly expose: boolean;

  constructor(code: ErrorCode, status: number, message: string, options?: { cause?: unknown; expose?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.status = status;
    this.expose = options?.expose ?? status < 500;
  }
}

/** 401: the request could not be proven to come from the configured sender. */
export class VerificationError extends BridgeError {
  constructor(code: ErrorCode, message: string) {
    super(code, 401, message);
    this.name = 'VerificationError';
  }
}

/** One problem in a config document: the key path (`connectors.crm.url`), a stable code, and how to fix it. */
export interface ConfigIssue {
  readonly path: string;
  readonly code: ErrorCode;
  readonly message: string;
}

/** A configuration that cannot be used; `issues` lists every problem found, each with its key path. */
export class ConfigError extends BridgeError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], code: ErrorCode = 'CONFIG_INVALID') {
    super(code, 500, `invalid configuration:\n  - ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n  - ')}`, { expose: false });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function isBridgeError(err: unknown): err is BridgeError {
  return err instanceof BridgeError;
}
