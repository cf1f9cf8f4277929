/** Headers whose values a preview never shows: credentials, and anything named like one. */
const SECRET_HEADER = /^(?:authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|password|auth|session|signature/i;
/** Query parameters a preview never shows, by the same rule. */
const SECRET_PARAM = /token|secret|key|password|passwd|auth|session|signature|sig$/i;
/** The connector's own headers: known values, never secret. */
const OWN_HEADERS = new Set(['content-type', 'idempotency-key', 'user-agent']);
export const REDACTED = '[redacted]';

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, !OWN_HEADERS.has(name) && SECRET_HEADER.test(name) ? REDACTED : value]));
}

export function redactQuery(url: string): string {
  const parsed = new URL(url);
  if (![...parsed.searchParams.keys()].some((key) => SECRET_PARAM.test(key))) return url;
  // Rebuilt by hand: URLSearchParams would re-encode every other value.
  const [head, query] = [url.slice(0, url.indexOf('?')), url.slice(url.indexOf('?') + 1).split('#')[0]!];
  const shown = query.split('&').map((pair) => {
    const [key = '', ...value] = pair.split('=');
    return value.length > 0 && SECRET_PARAM.test(decodeURIComponent(key)) ? `${key}=${REDACTED}` : pair;
  });
  return `${head}?${shown.join('&')}${parsed.hash}`;
}
