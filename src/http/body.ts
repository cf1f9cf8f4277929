import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import secureJson from 'secure-json-parse';
import { ExactInteger } from '../dialects/index.js';
import { BridgeError } from '../errors.js';

/**
 * What can be refused before a single body byte is read: the media type, a
 * content encoding, and a declared length over the limit.
 */
export function checkBodyHead(ctx: Context, limit: number): void {
  const type = ctx.request.type; // media type without parameters, lower case
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json${type ? `, not ${type}` : ' (none was sent)'}`);
  }
  const charset = ctx.request.charset;
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', `the body must be UTF-8 JSON, not ${charset}`);
  }
  checkBodyFraming(ctx, limit);
}

/**
 * What any request is refused for before its body is read, whatever its
 * media type: a content encoding, and a declared length over the limit.
 */
export function checkBodyFraming(ctx: Context, limit: number): void {
  // The signature covers the bytes as sent; decoding gzip first would also let a small body expand without bound.
  const encoding = ctx.request.get('content-encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new BridgeError('UNSUPPORTED_CONTENT_ENCODING', `send the body uncompressed; Content-Encoding ${encoding.slice(0, 40)} is not accepted`);
  }
  const declared = ctx.request.length;
  if (declared !== undefined) checkBodyLength(declared, limit);
}

/** BODY_TOO_LARGE for a body of `length` bytes over `limit`: the receiver's rule, which explain applies too. */
export function checkBodyLength(length: number, limit: number): void {
  if (length > limit) throw new BridgeError('BODY_TOO_LARGE', `the body is ${length} bytes; the limit is ${limit}`);
}

/** Body bytes in flight across all requests, bounded so many slow uploads cannot exhaust memory. */
export interface BodyBudget {
  /** A reservation for one request; `take` adds bytes to it, false when the budget has no room; `release` returns them all. */
  reserve(): { take(bytes: number): boolean; release(): void };
  /** Bytes currently reserved. */
  inFlight(): number;
}

export function createBodyBudget(total: number): BodyBudget {
  let used = 0;
  return {
    reserve() {
      let held = 0;
      return {
        take(bytes) {
          if (used + bytes > total) return false;
          used += bytes;
          held += bytes;
          return true;
        },
        release() {
          used -= held;
          held = 0;
        },
      };
    },
    inFlight: () => used,
  };
}

export interface ReadBodyOptions {
  readonly limit: number;
  /** The body must have arrived within this long after reading starts. */
  readonly timeoutMs: number;
  /** Counts each chunk against the in-flight budget; false refuses the request. */
  readonly take: (bytes: number) => boolean;
}

/**
 * Reads the body as raw bytes, never through a parsing body parser: the
 * signature covers the exact bytes sent, and they are verified before any
 * JSON is parsed, so nothing of an unverified body reaches a parser. Stops
 * reading at the limit, at the timeout and when the in-flight budget is spent.
 */
export function readRawBody(req: IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(
      () => finish(new BridgeError('REQUEST_TIMEOUT', `the body did not arrive within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > options.limit) return finish(new BridgeError('BODY_TOO_LARGE', `the body is over the limit of ${options.limit} bytes`));
      if (!options.take(chunk.length)) {
        return finish(new BridgeError('OVERLOADED', 'too many request bodies are being received at once; retry shortly'));
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (declared !== undefined && received !== declared) {
        finish(new BridgeError('BODY_UNREADABLE', `the body has ${received} bytes, but Content-Length said ${declared}`));
      } else finish(undefined);
    };
    const onError = (err: Error) => finish(new BridgeError('BODY_UNREADABLE', `the body could not be read: ${err.message}`, { cause: err }));
    const onClose = () => finish(new BridgeError('BODY_UNREADABLE', 'the connection closed before the body was complete'));
    function finish(err: BridgeError | undefined) {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) {
        req.pause(); // read no further; the answer closes the connection
        reject(err);
      } else resolve(Buffer.concat(chunks, received));
    }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `\uD800`-`\uDFFF` escaped, in either case: where a lone surrogate can come from. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** With the `u` flag a pair is one code point, so only a half without its partner matches. */
const LONE_SURROGATE = /\p{Cs}/u;

interface JsonScan {
  readonly tooDeep: boolean;
  /** Integer literals a double cannot hold exactly, as [start, end) offsets. */
  readonly bigIntegers: readonly (readonly [number, number])[];
  readonly outOfRange: boolean;
}

/**
 * One linear pass over the text, outside strings: the deepest nesting of `[` /
 * `{` (stops at `maxDepth`), integer literals beyond 2^53 and numbers a double
 * cannot hold at all (`1e400`).
 */
export function scanJson(text: string, maxDepth: number): JsonScan {
  let depth = 0;
  let inString = false;
  let outOfRange = false;
  const bigIntegers: [number, number][] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return { tooDeep: true, bigIntegers, outOfRange };
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      let integer = true;
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) integer = false;
        else break;
      }
      // Up to 15 digits without an exponent always fit a double exactly.
      if (end - i > 15 || !integer) {
        const value = Number(text.slice(i, end));
        if (!Number.isFinite(value)) outOfRange = true;
        else if (integer && !Number.isSafeInteger(value) && !isKeyPosition(text, end)) bigIntegers.push([i, end]);
      }
      i = end - 1;
    }
  }
  return { tooDeep: false, bigIntegers, outOfRange };
}

/** A token followed by `:` stands where a key goes: left as it is, so the parser still refuses it. */
function isKeyPosition(text: string, end: number): boolean {
  let i = end;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return text[i] === ':';
}

/** Nesting no Audian payload comes near (the seeds go four levels deep): the webhook port's bound, which explain applies too. */
export const WEBHOOK_JSON_DEPTH = 32;

/**
 * Parses JSON defensively: valid UTF-8 only, nesting bounded before the parser
 * runs (a deep document would otherwise cost stack and time), and `__proto__`
 * / `constructor.prototype` keys refused so no later merge can reach a prototype.
 *
 * Integers beyond 2^53 come back as `ExactInteger` holding the digits as sent:
 * `JSON.parse` would round 9007199254740993 to ...992 and merge two events
 * (Node 20's reviver has no access to the source text). Such tokens are
 * rewritten into strings under a per-parse marker before parsing, and the
 * reviver turns exactly those back. A number no double can hold (`1e400`) is
 * refused rather than stored as `null`.
 */
export function parseJsonBody(raw: Buffer, maxDepth: number): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BridgeError('INVALID_JSON', 'the body is not valid UTF-8');
  }
  // A NUL can only arrive escaped (JSON refuses raw control characters in strings): look closer only then.
  const mayHoldNul = text.includes('\\u0000');
  // So can a lone surrogate: the strict UTF-8 decode above refuses one encoded as bytes.
  const mayHoldSurrogate = SURROGATE_ESCAPE.test(text);
  const scan = scanJson(text, maxDepth);
  if (scan.tooDeep) throw new BridgeError('JSON_TOO_DEEP', `the JSON nests deeper than ${maxDepth} levels`);
  let reviver: ((key: string, value: unknown) => unknown) | undefined;
  if (scan.bigIntegers.length > 0) {
    const marker = `\u0000${Math.random().toString(36).slice(2)}:`;
    const parts: string[] = [];
    let at = 0;
    for (const [start, end] of scan.bigIntegers) {
      parts.push(text.slice(at, start), JSON.stringify(marker + text.slice(start, end)));
      at = end;
    }
    parts.push(text.slice(at));
    text = parts.join('');
    reviver = (_key, value) => (typeof value === 'string' && value.startsWith(marker) ? new ExactInteger(value.slice(marker.length)) : value);
  }
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, reviver, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (/prototype/i.test(message)) {
      throw new BridgeError('FORBIDDEN_JSON_KEY', 'the JSON contains a "__proto__" or "constructor.prototype" key');
    }
    throw new BridgeError('INVALID_JSON', `the body is not valid JSON: ${message}`);
  }
  if (scan.outOfRange) {
    throw new BridgeError('NUMBER_OUT_OF_RANGE', 'the JSON holds a number beyond the range of a double (e.g. 1e400); send it as a string');
  }
  if (mayHoldNul && holdsNul(parsed)) {
    // PostgreSQL text cannot hold it, CloudEvents forbids it in attributes, and no telephony field has one.
    throw new BridgeError('NUL_CHARACTER', 'the JSON holds a NUL character (\\u0000) in a string or key; no field of a webhook may contain one');
  }
  if (mayHoldSurrogate && someText(parsed, (part) => LONE_SURROGATE.test(part))) {
    // Not Unicode text: PostgreSQL would keep it as U+FFFD, merging ids that differ only there (SQLite keeps them apart).
    throw new BridgeError(
      'LONE_SURROGATE',
      'the JSON holds a lone UTF-16 surrogate (an escape \\ud800-\\udfff without its pair) in a string or key; send the text as UTF-8, or pair the escapes',
    );
  }
  return parsed;
}

/** Whether a string or key anywhere in `value` holds U+0000 (the exact integers' internal markers are gone by now). */
function holdsNul(value: unknown): boolean {
  return someText(value, (part) => part.includes('\u0000'));
}

/** Whether `test` holds for a string or key anywhere in `value`. */
function someText(value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (Array.isArray(value)) return value.some((item) => someText(item, test));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => test(key) || someText(item, test));
  }
  return false;
}
