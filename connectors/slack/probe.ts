import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, type WebClient } from '@slack/web-api';
import type { ProbeResult } from '../../src/sdk/index.js';
import { networkReason, withDeadline } from '../probe-reason.js';

/** The token errors of `auth.test` (docs.slack.dev "auth.test: Errors"), and what to do about them. */
const TOKEN_REFUSED = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'not_allowed_token_type']);

/**
 * The Slack connector's probe: `auth.test` through the connector's own
 * client (its `api_url`, its token), within its `timeout`. Ok names the
 * workspace and the bot user; otherwise Slack's error code (`invalid_auth`),
 * the HTTP status, or why the API could not be reached.
 */
export function createSlackProbe(clientFor: (signal: AbortSignal) => WebClient, apiUrl: string, timeoutMs: number): (signal: AbortSignal) => Promise<ProbeResult> {
  const label = `auth.test at ${apiUrl}`;
  return (signal) =>
    withDeadline(label, timeoutMs, signal, async (both) => {
      try {
        const auth = await clientFor(both).auth.test();
        return { ok: true, detail: `${label}: team ${String(auth.team ?? auth.team_id ?? '?')}, user ${String(auth.user ?? auth.user_id ?? '?')}` };
      } catch (err) {
        if (both.aborted) throw err;
        return { ok: false, reason: `${label}: ${slackReason(err)}` };
      }
    });
}

/** Why `auth.test` failed, in Slack's own words where it gave any. */
export function slackReason(err: unknown): string {
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error).slice(0, 200);
    return TOKEN_REFUSED.has(code) ? `${code}: the token was refused (check the token option: a bot token, xoxb-...)` : code;
  }
  if (err instanceof WebAPIRateLimitedError) return `rate limited (retry after ${err.retryAfter} s)`;
  if (err instanceof WebAPIHTTPError) return `HTTP ${err.statusCode}${err.statusCode < 500 ? ' (is api_url right?)' : ''}`;
  if (err instanceof WebAPIRequestError) return networkReason(err.original);
  return networkReason(err);
}
