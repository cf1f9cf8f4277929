import { waitFor } from './wait.js';

export interface SseMessage {
  readonly event: string;
  readonly data: unknown;
}

export interface SseStream {
  readonly status: number;
  /** Every message so far, in order. */
  readonly messages: SseMessage[];
  /** Comment lines (heartbeats) so far. */
  readonly comments: string[];
  /** The first message `match` accepts, once it arrives; fails after `timeoutMs`. */
  next(match: (message: SseMessage) => boolean, timeoutMs: number, what?: string): Promise<SseMessage>;
  /** Settles once the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens a Server-Sent Events stream with fetch and parses it as it arrives (the fields this project sends: event, data, retry). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const ended = (async () => {
    if (!response.body || !response.ok) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) messages.push({ event, data: JSON.parse(data.join('\n')) });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    status: response.status,
    messages,
    comments,
    next: (match, timeoutMs, what) => waitFor(() => messages.find(match), { timeoutMs, intervalMs: 10, what: what ?? 'a matching message' }),
    ended,
    close: () => abort.abort(),
  };
}
