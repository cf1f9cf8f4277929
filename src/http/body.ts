import type { Context } from 'koa';
import getRawBody from 'raw-body';
import secureJson from 'secure-json-parse';
import { BridgeError } from '../errors.js';

/**
 * The body is read as raw bytes, never through a parsing body parser: the
 * signature covers the exact bytes sent, and DESIGN.md asks to verify them
 * before any JSON is parsed.
 */
export async function readRawBody(ctx: Context, limit: number): Promise<Buffer> {
  const type = ctx.request.type; // media type without parameters, lower case
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new BridgeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json${type ? `, not ${type}` : ' (none was sent)'}`,
    );
  }
  const charset = ctx.request.charset;
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BridgeError('UNSUPPORTED_MEDIA_TYPE', `the body must be UTF-8 JSON, not ${charset}`);
  }
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) {
    throw new BridgeError('BODY_TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit}`);
  }
  try {
    return await getRawBody(ctx.req, { limit, ...(declared !== undefined ? { length: declared } : {}) });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw new BridgeError('BODY_TOO_LARGE', `the body is over the limit of ${limit} bytes`);
    throw new BridgeError('BODY_UNREADABLE', `the body could not be read: ${(err as Error).message}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deepest nesting of `[` / `{` outside strings; stops counting once past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * Parses JSON defensively: valid UTF-8 only, nesting bounded before the parser
 * runs (a deep document would otherwise cost stack and time), and `__proto__`
 * / `constructor.prototype` keys refused so no later merge can reach a prototype.
 */
export function parseJsonBody(raw: Buffer, maxDepth: number): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BridgeError('INVALID_JSON', 'the body is not valid UTF-8');
  }
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new BridgeError('JSON_TOO_DEEP', `the JSON nests deeper than ${maxDepth} levels`);
  }
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (/prototype/i.test(message)) {
      throw new BridgeError('FORBIDDEN_JSON_KEY', 'the JSON contains a "__proto__" or "constructor.prototype" key');
    }
    throw new BridgeError('INVALID_JSON', `the body is not valid JSON: ${message}`);
  }
}
