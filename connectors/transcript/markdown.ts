import type { TranscriptSegment } from '../../src/sdk/index.js';

/** The finished transcript of one call, as the connector writes it to `<call>.json`. */
export interface TranscriptDocument {
  readonly call_id: string;
  /** The CloudEvents source of the call, e.g. `audian/main`. */
  readonly source: string;
  /** `final`: the full transcript the call's end carried; `live`: the live segments; `none`: the call had neither. */
  readonly transcript_source: 'final' | 'live' | 'none';
  readonly call: { readonly direction?: string; readonly from?: string; readonly from_name?: string; readonly to?: string };
  readonly started_at: string | null;
  readonly ended_at: string | null;
  /** The event that finished the document (the ending `call.completed`, or the `call.summary`). */
  readonly event_id: string;
  readonly segments: readonly TranscriptSegment[];
}

/** Payload text shown as text: Markdown's own characters escaped, line breaks kept as breaks. */
function escape(value: string): string {
  return value
    .replace(/[\\`*_{}[\]()<>#+\-.!|~]/g, (char) => `\\${char}`)
    .replace(/\r\n?|\n/g, '  \n');
}

function clock(time: string | null): string | undefined {
  return time === null ? undefined : `${time.slice(11, 19)} UTC`;
}

/** A readable rendering of the document: who called whom, then each line with its speaker and time. */
export function renderMarkdown(document: TranscriptDocument): string {
  const { call } = document;
  const party = (name: string | undefined, number: string | undefined) => [name, number].filter((part) => part !== undefined).map((part) => escape(part as string)).join(', ');
  const facts = [
    `- Source: ${escape(document.source)}`,
    ...(call.direction ? [`- Direction: ${escape(call.direction)}`] : []),
    ...(call.from || call.from_name ? [`- From: ${party(call.from_name, call.from)}`] : []),
    ...(call.to ? [`- To: ${escape(call.to)}`] : []),
    ...(document.started_at ? [`- Started: ${escape(document.started_at)}`] : []),
    ...(document.ended_at ? [`- Ended: ${escape(document.ended_at)}`] : []),
    `- Transcript: ${document.transcript_source === 'none' ? 'none' : `${document.transcript_source}, ${document.segments.length} ${document.segments.length === 1 ? 'line' : 'lines'}`}`,
  ];
  const lines =
    document.segments.length === 0
      ? ['_No transcript was recorded for this call._']
      : document.segments.map((segment) => {
          const time = clock(segment.time);
          const who = `**${escape(segment.speaker ?? 'unknown')}**${time ? ` (${time})` : ''}`;
          return `${who}: ${escape(segment.text)}`;
        });
  return `# Call ${escape(document.call_id)}\n\n${facts.join('\n')}\n\n${lines.join('\n\n')}\n`;
}
