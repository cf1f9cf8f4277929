/**
 * Every error the bridge raises on purpose. Each carries a stable `code` that
 * tests, logs and HTTP clients rely on; messages may change, codes may not.
 * `ERRORS` is the one place a code's HTTP status comes from. Errors become HTTP
 * responses in exactly one place: `src/http/error-handler.ts`.
 */

export interface ErrorSpec {
  /** HTTP status used when the error reaches a client. */
  readonly status: number;
  /** Whether the message may be shown to the client (never true for anything holding secrets). */
  readonly expose: boolean;
}

const request = (status: number): ErrorSpec => ({ status, expose: true });
const service = (status: number, expose = true): ErrorSpec => ({ status, expose });

export const ERRORS = {
  // the request itself
  UNSUPPORTED_MEDIA_TYPE: request(415),
  UNSUPPORTED_CONTENT_ENCODING: request(415),
  BODY_TOO_LARGE: request(413),
  BODY_UNREADABLE: request(400),
  REQUEST_TIMEOUT: request(408),
  INVALID_JSON: request(400),
  JSON_TOO_DEEP: request(400),
  FORBIDDEN_JSON_KEY: request(400),
  NUMBER_OUT_OF_RANGE: request(400),
  NUL_CHARACTER: request(400),
  LONE_SURROGATE: request(400),
  NOT_AN_OBJECT: request(422),
  UNKNOWN_DIALECT: request(422),
  DIALECT_NOT_ACCEPTED: request(422),
  NOT_FOUND: request(404),
  METHOD_NOT_ALLOWED: request(405),
  NOT_IMPLEMENTED: request(501),
  INVALID_REQUEST: request(400),
  ID_OUT_OF_RANGE: request(400),
  REPLAY_STATUS_REQUIRED: request(400),
  UNAUTHORIZED: request(401),
  // verification
  SIGNATURE_MISSING: request(401),
  SIGNATURE_MALFORMED: request(401),
  SIGNATURE_MISMATCH: request(401),
  TIMESTAMP_MISSING: request(401),
  TIMESTAMP_INVALID: request(401),
  TIMESTAMP_OUT_OF_TOLERANCE: request(401),
  AUTH_HEADER_MISSING: request(401),
  AUTH_HEADER_MISMATCH: request(401),
  // the service
  STORE_UNAVAILABLE: service(503),
  STORE_KEY_MISMATCH: service(503),
  STORE_LOCKED: service(500, false),
  STORE_PERMISSION_DENIED: service(500, false),
  STORE_NOT_FOUND: service(500, false),
  OVERLOADED: service(503),
  SHUTTING_DOWN: service(503),
  CONFIG_NOT_RELOADABLE: service(409),
  INTERNAL_ERROR: service(500, false),
  CONFIG_INVALID: service(500, false),
  CONFIG_NOT_FOUND: service(500, false),
  CONFIG_ENV_MISSING: service(500, false),
  CONFIG_UNKNOWN_KEY: service(500, false),
  // one problem inside a config document (ConfigError.issues)
  CONFIG_SYNTAX: service(500, false),
  CONFIG_MISSING_KEY: service(500, false),
  CONFIG_BAD_VALUE: service(500, false),
  CONFIG_DUPLICATE: service(500, false),
  CONFIG_UNKNOWN_REFERENCE: service(500, false),
  CONFIG_UNVERIFIED_SOURCE: service(500, false),
  // the provider's management API (src/provider/); messages name the endpoint, never a token or a response body
  PROVIDER_UNAUTHORIZED: service(502),
  PROVIDER_NOT_FOUND: service(502),
  PROVIDER_REJECTED: service(502),
  PROVIDER_UNAVAILABLE: service(502),
  PROVIDER_TIMEOUT: service(504),
  PROVIDER_MALFORMED: service(502),
  SUBSCRIPTION_NOT_APPLIED: request(409),
  SUBSCRIPTION_UNSUPPORTED: request(400),
  SECRET_FILE_INVALID: service(500),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class BridgeError extends Error {
  readonly code: ErrorCode;
  /** HTTP status used when the error reaches a client; from `ERRORS`. */
  readonly status: number;
  /** Whether `message` may be shown to the client; from `ERRORS`. */
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
    super(code, `invalid configuration:\n  - ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
