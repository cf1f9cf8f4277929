import { compileTemplate, placeholderValue, wellFormed, type CanonicalEvent, type TemplatePiece } from '../../src/sdk/index.js';

/**
 * The http connector's URL template, with the rules that keep payload values
 * from steering a request (docs/connectors/http.md, "URL rules"):
 * - the scheme, host and port are fixed when the config is loaded: a
 *   placeholder may fill path segments and query values only, never the
 *   scheme, the user info, the host, the port, a query name or the fragment;
 * - each value is percent-encoded (RFC 3986 unreserved characters stay), so
 *   `/`, `?`, `#`, `%`, `@` and `\` stay inside their segment or value;
 * - a value that would make a path segment `.` or `..` (also `%2e` forms,
 *   which URL parsing collapses the same way) or leave a placeholder-filled
 *   segment empty is a permanent failure of that delivery, never a request to
 *   another path;
 * - credentials in the URL (`https://user:pass@host`) are sent as an
 *   `Authorization: Basic` header and never shown: the URL in logs, errors
 *   and previews has no user info.
 */
export interface UrlTemplate {
  /** Scheme, host and port, e.g. `https://crm.example.com`; safe to show. */
  readonly origin: string;
  /** From the URL's user info, as an `Authorization` header value. */
  readonly authorization?: string;
  render(event: CanonicalEvent): { ok: true; url: string } | { ok: false; error: string };
}

/** Placeholders go in path segments and query values, encoded like this. */
export function encodeComponent(value: string): string {
  return encodeURIComponent(wellFormed(value)).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;
const SCHEME_AND_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/;

type Part = 'path' | 'query' | 'fragment';

/** Compiles and checks a URL template; throws an Error saying what to change. Messages never contain the user info. */
export function compileUrlTemplate(source: string): UrlTemplate {
  const { origin, authorization, rest } = splitOrigin(compileTemplate(source).pieces);
  checkPlaces(rest);
  // A literal part that URL parsing would rewrite (a space, a `..` segment) would fail every delivery: refuse it now.
  const sample = buildUrl(origin, rest, () => 'x');
  if (!sample.ok) throw new Error('the URL is not in normal form (a space or another character to percent-encode, or a "." or ".." segment?): write it as a browser would send it');

  return {
    origin,
    ...(authorization ? { authorization } : {}),
    render: (event) => buildUrl(origin, rest, (path) => placeholderValue(event, path)),
  };
}

/**
 * The fixed part of a template (scheme, host and port) and the pieces after
 * it (path, query, fragment; the path starts with `/`). Throws where a
 * placeholder stands in the fixed part, or it is no http(s) URL.
 */
function splitOrigin(pieces: readonly TemplatePiece[]): { origin: string; authorization: string | undefined; rest: TemplatePiece[] } {
  const first = pieces.findIndex((piece) => typeof piece !== 'string');
  const leading = (first === -1 ? pieces : pieces.slice(0, first)).join('');
  const authority = SCHEME_AND_AUTHORITY.exec(leading);
  if (!authority) {
    // `{data.base}/x` or `http{data.s}://...`: a placeholder where the scheme or host belongs.
    const literal = pieces.filter((piece) => typeof piece === 'string').join('');
    if (first !== -1 && (leading === '' || literal.includes('://'))) throw new Error(PLACEHOLDER_PLACES);
    throw new Error('not an absolute URL: write e.g. https://crm.example.com/calls/{subject}');
  }
  if (first !== -1 && authority[0].length === leading.length) throw new Error(PLACEHOLDER_PLACES);
  let base: URL;
  try {
    base = new URL(authority[0]);
  } catch {
    throw new Error('not a valid URL: check the scheme, host and port (write e.g. https://crm.example.com/calls/{subject})');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`${base.protocol.slice(0, -1)} URLs are not supported: use http or https`);
  if (base.hostname === '') throw new Error('the URL names no host');
  const authorization =
    base.username || base.password ? `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}` : undefined;

  // Everything after the authority: path, query, fragment. `https://crm?x=1` has the path `/`.
  const rest: TemplatePiece[] = [leading.slice(authority[0].length), ...(first === -1 ? [] : pieces.slice(first))];
  if (!(rest[0] as string).startsWith('/')) rest[0] = `/${rest[0] as string}`;
  return { origin: base.origin, authorization, rest };
}

/** Why a path segment that placeholders (`filled`) helped write may not be sent, if it may not. */
function segmentProblem(segment: string, filled: readonly string[]): string | undefined {
  if (filled.length === 0) return undefined;
  const which = `{${filled.join('}, {')}}`;
  if (segment === '') return `${which} left a path segment empty`;
  if (DOT_SEGMENT.test(segment)) return `${which} made the path segment "${segment}", which URL parsing would resolve to another path`;
  return undefined;
}

/** The URL of `origin` and `rest` with each placeholder's value encoded, or why it cannot be sent. */
function buildUrl(origin: string, rest: readonly TemplatePiece[], valueOf: (path: string) => string | undefined): { ok: true; url: string } | { ok: false; error: string } {
  const missing: string[] = [];
  let url = origin;
  let part: Part = 'path';
  /** The path segment being written, and whether a placeholder filled any of it. */
  let segment = '';
  let filled: string[] = [];
  for (const piece of rest) {
    if (typeof piece === 'string') {
      for (const char of piece) {
        if (part === 'path' && (char === '/' || char === '?' || char === '#')) {
          const problem = segmentProblem(segment, filled);
          if (problem) return { ok: false, error: problem };
          segment = '';
          filled = [];
          if (char !== '/') part = char === '?' ? 'query' : 'fragment';
        } else if (part === 'query' && char === '#') {
          part = 'fragment';
        } else if (part === 'path') {
          segment += char;
        }
        url += char;
      }
      continue;
    }
    const value = valueOf(piece.path);
    if (value === undefined) {
      missing.push(piece.path);
      continue;
    }
    const encoded = encodeComponent(value);
    if (part === 'path') {
      segment += encoded;
      filled.push(piece.path);
    }
    url += encoded;
  }
  if (missing.length > 0) return { ok: false, error: `url template has no value for {${missing.join('}, {')}}` };
  if (part === 'path') {
    const problem = segmentProblem(segment, filled);
    if (problem) return { ok: false, error: problem };
  }
  // The last guard: what is sent is exactly what was built, to the host configured.
  const parsed = parseUrl(url);
  if (!parsed || parsed.href !== url || parsed.origin !== origin) return { ok: false, error: 'the rendered URL would be rewritten by URL parsing; not sent' };
  return { ok: true, url };
}

const PLACEHOLDER_PLACES =
  'the scheme, host and port are fixed: placeholders may fill path segments and query values only (write e.g. https://crm.example.com/calls/{subject}?type={type})';

/** Refuses placeholders in a query name or the fragment. */
function checkPlaces(rest: readonly TemplatePiece[]): void {
  let part: Part = 'path';
  let inValue = false;
  for (const piece of rest) {
    if (typeof piece !== 'string') {
      if (part === 'fragment') throw new Error('a placeholder cannot be in the fragment (#...), which is never sent');
      if (part === 'query' && !inValue) throw new Error('a placeholder may fill a query value (?call={subject}), not a query name');
      continue;
    }
    for (const char of piece) {
      if (part === 'path' && char === '?') [part, inValue] = ['query', false];
      else if (char === '#') part = 'fragment';
      else if (part === 'query' && char === '&') inValue = false;
      else if (part === 'query' && char === '=') inValue = true;
    }
  }
}

function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** Removes the user info from a URL or URL template, for logs. */
export function withoutUserInfo(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}
