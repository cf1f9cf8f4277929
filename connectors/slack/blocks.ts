import { lookupPath, type CanonicalEvent, type Template } from '../../src/sdk/index.js';
import { payloadText, truncate } from './escape.js';

/** The Block Kit subset the connector posts (docs.slack.dev "Block Kit reference"). */
export interface MrkdwnText {
  readonly type: 'mrkdwn';
  readonly text: string;
  /** True: Slack links no URL or channel name and parses no mention that the text does not spell out as `<...>`. */
  readonly verbatim: true;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: { readonly type: 'plain_text'; readonly text: string; readonly emoji: true } }
  | { readonly type: 'section'; readonly text: MrkdwnText }
  | { readonly type: 'section'; readonly fields: readonly MrkdwnText[] }
  | { readonly type: 'context'; readonly elements: readonly MrkdwnText[] };

export interface SlackMessage {
  /** The notification and screen-reader text; mrkdwn, escaped like the blocks. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

export interface MessageOptions {
  /** IANA time zone for displayed times, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  /** The operator's headline template, compiled with `escapeMrkdwn` as its encoder. */
  readonly template?: Template;
}

const TITLES: Readonly<Record<string, string>> = {
  'call.missed': 'Missed call',
  'call.initiated': 'Call started',
  'call.ringing': 'Call ringing',
  'call.answered': 'Call answered',
  'call.bridged': 'Call connected',
  'call.completed': 'Call ended',
  'call.failed': 'Call failed',
  'call.cancelled': 'Call cancelled',
  'call.transferred': 'Call transferred',
  'call.error': 'Call error',
  'recording.completed': 'Recording ready',
};

/** `reason` values of seed 001 `call.failed` and of the derived `call.missed`. */
const REASONS: Readonly<Record<string, string>> = {
  no_answer: 'No answer',
  busy: 'Busy',
  declined: 'Declined',
  cancelled: 'Caller hung up before an answer',
  unanswered: 'Not answered',
  invalid_number: 'Invalid number',
  network_error: 'Network error',
  internal_error: 'Internal error',
};

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim().length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function mrkdwn(value: string): MrkdwnText {
  return { type: 'mrkdwn', text: value, verbatim: true };
}

function field(label: string, value: string): MrkdwnText {
  return mrkdwn(`*${label}*\n${value}`);
}

/** `2026-02-04 11:30:00 EST`, in `timeZone`; the zone's short name, or its GMT offset where it has none. */
export function formatTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return payloadText(iso);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

/** `45 s`, `2 min 5 s`. */
export function formatSeconds(total: number): string {
  const seconds = Math.round(total);
  if (seconds < 60) return `${seconds} s`;
  const rest = seconds % 60;
  return `${Math.floor(seconds / 60)} min${rest > 0 ? ` ${rest} s` : ''}`;
}

function formatTags(tags: unknown): string | undefined {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return undefined;
  const entries = Object.entries(tags as Record<string, unknown>).map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return entries.length > 0 ? payloadText(entries.join(', '), 500) : undefined;
}

/** What the message says about the event's call, from `data` and the lifecycle's `data.call`. */
function describe(event: CanonicalEvent) {
  const data = event.data;
  const call = data.call;
  const direction = text(call?.direction) ?? text(data.call_type);
  const reason = text(data.reason) ?? (event.type === 'call.cancelled' ? 'cancelled' : undefined);
  const ring = typeof data.ring_duration === 'number' ? data.ring_duration : undefined;
  const duration = event.type !== 'call.missed' && typeof data.duration === 'number' ? data.duration : undefined;
  const baseTitle = TITLES[event.type] ?? truncate(event.type, 120);
  return {
    title: direction === 'outbound' && event.type.startsWith('call.') ? `Outbound ${baseTitle.charAt(0).toLowerCase()}${baseTitle.slice(1)}` : baseTitle,
    callerNumber: text(data.from) ?? text(call?.from),
    callerName: text(data.from_name) ?? text(call?.from_name),
    called: text(data.to) ?? text(call?.to),
    // A missed call is shown at the time it started ringing; anything else when it happened.
    time: (event.type === 'call.missed' ? text(data.started_at) : undefined) ?? event.time,
    reason: reason === undefined ? undefined : (REASONS[reason] ?? payloadText(reason)),
    ring,
    duration,
    tags: formatTags(data.tags),
    callId: event.subject ?? text(data.call_id),
  };
}

/**
 * Renders the operator's template; a placeholder without a value shows as
 * `unknown` rather than losing the alert. Values are escaped by the template's encoder.
 */
function renderTemplate(template: Template, event: CanonicalEvent): string | undefined {
  const view: Record<string, unknown> = {};
  for (const path of template.placeholders) {
    const value = lookupPath(event, path);
    let node = view;
    const keys = path.split('.');
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
    }
    node[keys[keys.length - 1] as string] = value === undefined || value === null || typeof value === 'object' ? 'unknown' : value;
  }
  const rendered = template.render(view as unknown as CanonicalEvent);
  return rendered.ok && rendered.value.trim().length > 0 ? truncate(rendered.value, 3000) : undefined;
}

/**
 * The Block Kit message for one event: a header naming what happened, the
 * operator's headline when configured, the caller (name and number), the
 * number called, the time in the configured zone, the reason, ring time and
 * tags where known, and the call and event ids for tracing. Everything taken
 * from the payload is escaped and every mrkdwn text is `verbatim`.
 */
export function buildMessage(event: CanonicalEvent, options: MessageOptions): SlackMessage {
  const about = describe(event);
  const caller = [about.callerName && payloadText(about.callerName), about.callerNumber && payloadText(about.callerNumber)].filter(Boolean).join('\n') || 'unknown';
  const fields: MrkdwnText[] = [
    field('Caller', caller),
    field('Number called', about.called ? payloadText(about.called) : 'unknown'),
    field('Time', formatTime(about.time, options.timeZone)),
  ];
  if (about.reason) fields.push(field('Reason', about.reason));
  if (about.ring !== undefined) fields.push(field('Ring time', formatSeconds(about.ring)));
  if (about.duration !== undefined) fields.push(field('Duration', formatSeconds(about.duration)));
  if (about.tags) fields.push(field('Tags', about.tags));

  const headline = options.template ? renderTemplate(options.template, event) : undefined;
  const who = about.callerName ? `${about.callerName} (${about.callerNumber ?? 'unknown number'})` : (about.callerNumber ?? 'an unknown number');
  const fallback = `${about.title}: ${payloadText(who)}${about.called ? ` to ${payloadText(about.called)}` : ''}`;
  const trace = [about.callId && `call ${payloadText(about.callId)}`, `event ${payloadText(event.id)}`].filter(Boolean).join(' · ');

  return {
    text: headline ?? fallback,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: about.title, emoji: true } },
      ...(headline ? [{ type: 'section' as const, text: mrkdwn(headline) }] : []),
      { type: 'section', fields },
      { type: 'context', elements: [mrkdwn(trace)] },
    ],
  };
}
