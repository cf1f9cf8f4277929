import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from '@slack/web-api';
import { permanent, retriable, type SendResult } from '../../src/sdk/index.js';

/**
 * `chat.postMessage` errors that no retry fixes: the token, the app's access
 * to the channel, or the message itself is wrong (docs.slack.dev
 * "chat.postMessage: Errors"). Retrying them would only delay the dead letter.
 */
const PERMANENT = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'not_allowed_token_type',
  'access_denied',
  'team_access_not_granted',
  'ekm_access_denied',
  'org_login_required',
  'two_factor_setup_required',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'restricted_action',
  'restricted_action_read_only_channel',
  'restricted_action_thread_only_channel',
  'restricted_action_non_threadable_channel',
  'cannot_reply_to_message',
  'msg_too_long',
  'no_text',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'invalid_arg_name',
  'invalid_array_arg',
  'invalid_charset',
  'invalid_form_data',
  'invalid_post_type',
  'missing_post_type',
  'method_deprecated',
  'deprecated_endpoint',
]);

/**
 * Sorts a failed call into retriable or permanent. Rate limits carry Slack's
 * `Retry-After` so the dispatcher reschedules the delivery in the outbox.
 * Platform errors not known to be permanent are retried (bounded by
 * `dispatch.max_age`): a lost alert costs more than a few retries.
 */
export function classifySlackError(err: unknown): SendResult {
  if (err instanceof WebAPIRateLimitedError) {
    return retriable(`Slack rate limit: retry after ${err.retryAfter} s`, err.retryAfter * 1000, 'throttled');
  }
  if (err instanceof WebAPIPlatformError) {
    const code = String(err.data.error).slice(0, 200);
    const detail = `Slack answered ${code}`;
    if (code === 'ratelimited' || code === 'rate_limited') {
      const after = err.data.response_metadata?.retryAfter;
      return typeof after === 'number' ? retriable(detail, after * 1000, 'throttled') : retriable(detail);
    }
    // Slack itself is down: every post would fail alike.
    if (code === 'service_unavailable') return retriable(detail, undefined, 'unreachable');
    return PERMANENT.has(code) ? permanent(hint(code, detail)) : retriable(detail);
  }
  if (err instanceof WebAPIHTTPError) {
    const detail = `Slack answered HTTP ${err.statusCode} ${err.statusMessage}`.trim();
    if (err.statusCode >= 500) return retriable(detail, undefined, 'server');
    return err.statusCode === 408 ? retriable(detail) : permanent(`${detail}; is api_url right?`);
  }
  if (err instanceof WebAPIRequestError) return retriable(`request to Slack failed: ${err.original.message}`, undefined, 'unreachable');
  // A 429 without a readable Retry-After, or anything unexpected: retried with the dispatcher's backoff.
  return retriable(err instanceof Error ? err.message : String(err));
}

function hint(code: string, detail: string): string {
  switch (code) {
    case 'not_in_channel':
      return `${detail}: invite the app to the channel (/invite @app) or give it chat:write.public`;
    case 'channel_not_found':
      return `${detail}: check the channel option (a channel ID such as C0123456789 is safest)`;
    case 'invalid_auth':
    case 'not_authed':
    case 'token_revoked':
    case 'token_expired':
    case 'account_inactive':
      return `${detail}: check the token option (a bot token, xoxb-...)`;
    case 'missing_scope':
      return `${detail}: add the chat:write scope to the app and reinstall it`;
    default:
      return detail;
  }
}
