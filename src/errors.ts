/**
 * Every error the bridge raises on purpose. Each carries a stable `code` that
 * tests, logs and HTTP clients rely on; messages may change, codes may not.
 * Errors become HTTP responses in exactly one place: `src/http/error-handler.ts`.
 */

/** The one place an error's HTTP status and exposure come from. */
export const ERRORS = {
  // the request itself
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true },
  BODY_TOO_LARGE: { status: 413, expose: true },
  BODY_UNREADABLE: { status: 400, expose: true },
  INVALID_JSON: { status: 400, expose: true },
  JSON_TOO_DEEP: { status: 400, expose: true },
  FORBIDDEN_JSON_KEY: { status: 400, expose: true },
  NOT_AN_OBJECT: { status: 422, expose: true },
  UNKNOWN_DIALECT: { status: 422, expose: true },
  DIALECT_NOT_ACCEPTED: { status: 422, expose: true },
  NOT_FOUND: { status: 404, expose: true },
  METHOD_NOT_ALLOWED: { status: 405, expose: true },
  // verification
  SIGNATURE_MISSING: { status: 401, expose: true },
  SIGNATURE_MALFORMED: { status: 401, expose: true },
  SIGNATURE_MISMATCH: { status: 401, expose: true },
  TIMESTAMP_MISSING: { status: 401, expose: true },
  TIMESTAMP_INVALID: { status: 401, expose: true },
  TIMESTAMP_OUT_OF_TOLERANCE: { status: 401, expose: true },
  AUTH_HEADER_MISSING: { status: 401, expose: true },
  AUTH_HEADER_MISMATCH: { status: 401, expose: true },
  // the service
  STORE_UNAVAILABLE: { status: 503, expose: true },
  STORE_LOCKED: { status: 500, expose: false },
  INTERNAL_ERROR: { status: 500, expose: false },
  SHUTTING_DOWN: { status: 503, expose: true },
  CONFIG_INVALID: { status: 500, expose: false },
  CONFIG_NOT_FOUND: { status: 500, expose: false },
} as const satisfies Record<string, { status: number; expose: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export class BridgeError extends Error {
  readonly code: ErrorCode;
  /** HTTP status used when the error reaches a client; from `ERRORS`. */
  readonly status: number;
  /** Whether `message` may be shown to the client (never true for anything holding secrets); from `ERRORS`. */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BridgeError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.expose = ERRORS[code].expose;
  }
}

/** 401: the request could not be proven to come from the configured sender. */
export class VerificationError extends BridgeError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'VerificationError';
  }
}

/** A configuration problem; `path` names the key, e.g. `connectors.crm.url`. */
export class ConfigError extends BridgeError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[], code: ErrorCode = 'CONFIG_INVALID') {
    super(code, `invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function isBridgeError(err: unknown): err is BridgeError {
  return err instanceof BridgeError;
}
