/**
 * Text from payloads in Slack `mrkdwn`. Slack reads `<...>` as a mention,
 * channel, date or link (`<!channel>`, `<@U123>`, `<https://x|click>`) and asks
 * for exactly `&`, `<` and `>` to be escaped as HTML entities
 * (docs.slack.dev "Formatting text for app surfaces: Escaping text"). Escaped,
 * a caller name like `<!channel>` shows as those characters and notifies nobody.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts `text` to `max` characters with an ellipsis; Block Kit rejects over-long texts (fields: 2000). */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Escapes after cutting, so an entity is never split in half. */
export function payloadText(value: string, max = 200): string {
  return escapeMrkdwn(truncate(value, max));
}
