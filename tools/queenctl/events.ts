/**
 * `queenctl events`: follows GET /v1/events, and when the stream breaks, reconnects with the last
 * event's id as `Last-Event-ID`, so nothing in between is missed (or the queen says `reset`).
 */
import { QueenClient, UnreachableError, ProblemError, Problem } from './client';

export interface StreamEvent {
  event: string;
  id: string | null;
  data: Record<string, unknown>;
}

export interface FollowOptions {
  types?: string;
  /** Resume after this event id. */
  since?: string;
  /** Stop after this many events (resets included); undefined: follow until interrupted. */
  limit?: number;
  onEvent: (event: StreamEvent) => void;
  /** Told when the stream broke and is being opened again. */
  onReconnect: (reason: string) => void;
  reconnectDelayMs?: number;
}

/** Splits an SSE byte stream into events (the `event`, `id` and `data` fields; comments skipped). */
export function* parseEvents(buffer: { text: string }): Generator<StreamEvent> {
  let end: number;
  while ((end = buffer.text.indexOf('\n\n')) >= 0) {
    const block = buffer.text.slice(0, end);
    buffer.text = buffer.text.slice(end + 2);
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) yield { event, id, data: JSON.parse(data.join('\n')) as Record<string, unknown> };
  }
}

export async function followEvents(client: QueenClient, options: FollowOptions): Promise<void> {
  let lastId = options.since;
  let received = 0;
  let connected = false;
  const query = options.types ? `?types=${encodeURIComponent(options.types)}` : '';
  for (;;) {
    let response: Response;
    try {
      response = await fetch(client.url(`/v1/events${query}`), {
        headers: { accept: 'text/event-stream', ...client.authHeaders(), ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      const reason = `cannot reach the queen at ${client.baseUrl}: ${cause?.code ?? (error as Error).message}`;
      // A queen that was followed and went away (a restart) is waited for; one never reached is an error.
      if (!connected) throw new UnreachableError(reason);
      options.onReconnect(reason);
      await new Promise((resolve) => setTimeout(resolve, options.reconnectDelayMs ?? 1000));
      continue;
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as Partial<Problem>;
      throw new ProblemError({ ...body, status: response.status });
    }
    connected = true;
    const buffer = { text: '' };
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer.text += decoder.decode(chunk, { stream: true });
        for (const event of parseEvents(buffer)) {
          if (event.id) lastId = event.id;
          options.onEvent(event);
          if (options.limit !== undefined && ++received >= options.limit) {
            await response.body?.cancel().catch(() => undefined);
            return;
          }
        }
      }
      options.onReconnect('the queen ended the stream');
    } catch (error) {
      options.onReconnect(`the stream broke (${(error as Error).message})`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.reconnectDelayMs ?? 1000));
  }
}
