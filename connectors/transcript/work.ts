import { join } from 'node:path';
import { finalTranscriptOf, segmentOf, type CanonicalEvent, type TranscriptSegment } from '../../src/sdk/index.js';
import { readLive, type LiveLine } from './files.js';
import type { TranscriptDocument } from './markdown.js';
import { fileNameOf, sourceFolder } from './names.js';

/** A finished document: `segments` given (final transcript, transcript.completed) or read from the live lines. */
export interface Finish {
  readonly kind: 'finish';
  readonly event: CanonicalEvent;
  readonly live: string;
  readonly source: 'final' | 'live';
  readonly segments?: readonly TranscriptSegment[];
}

/** What one event asks of the connector. */
export type Work =
  | { readonly kind: 'append'; readonly folder: string; readonly path: string; readonly line: string }
  | Finish
  | { readonly kind: 'none'; readonly reason: string };

/** What `event` asks of a transcript connector writing under `dir`; reads and writes nothing. */
export function planWork(event: CanonicalEvent, dir: string): Work {
  if (event.subject === undefined) return { kind: 'none', reason: 'the event concerns no call' };
  const folder = sourceFolder(dir, event);
  const live = join(folder, `${fileNameOf(event.subject)}.jsonl`);
  if (event.type === 'transcript.segment') {
    const segment = segmentOf(event);
    const line: LiveLine = { event_id: event.id, time: segment.time, speaker: segment.speaker, text: segment.text };
    return { kind: 'append', folder, path: live, line: `${JSON.stringify(line)}\n` };
  }
  const final = finalTranscriptOf(event);
  if (final) return { kind: 'finish', event, live, source: 'final', segments: final };
  if (event.type === 'call.summary') return { kind: 'finish', event, live, source: 'live' };
  if (event.type === 'transcript.completed' && Array.isArray(event.data.segments)) {
    return { kind: 'finish', event, live, source: event.data.transcript_source === 'final' ? 'final' : 'live', segments: event.data.segments as TranscriptSegment[] };
  }
  return { kind: 'none', reason: `a ${event.type} event without a full transcript has nothing to write` };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The finished document of the call, from the segments `work` carries or else from the call's live lines. */
export async function documentOf(work: Finish): Promise<TranscriptDocument> {
  const { event } = work;
  const segments = work.segments ?? (await readLive(work.live));
  const call = event.data.call;
  return {
    call_id: event.subject as string,
    source: event.source,
    transcript_source: segments.length === 0 ? 'none' : work.source,
    call: {
      ...(call?.direction ? { direction: call.direction } : {}),
      ...(call?.from ? { from: call.from } : {}),
      ...(call?.from_name ? { from_name: call.from_name } : {}),
      ...(call?.to ? { to: call.to } : {}),
    },
    started_at: text(event.data.started_at) ?? null,
    ended_at: text(event.data.ended_at) ?? (event.type === 'call.completed' ? event.time : null),
    event_id: event.id,
    segments: segments.map((segment) => ({ speaker: segment.speaker ?? null, text: String(segment.text ?? ''), time: segment.time ?? null })),
  };
}
