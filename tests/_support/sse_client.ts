/**
 * A small Server-Sent Events client for tests: `fetch` plus a reader that splits the body
 * into events, so a test can wait for the event it expects instead of sleeping.
 *
 * @module
 */

/** One event as the stream carried it; comments (`: …`) count apart. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** A connected client. */
export interface SseClient extends AsyncDisposable {
  readonly response: Response;
  /** Every event received so far, in order. */
  readonly events: SseEvent[];
  /** Comment lines received so far (heartbeats). */
  readonly comments: string[];
  /** The next event, or `null` once the stream has ended. */
  next(): Promise<SseEvent | null>;
  /** Reads until an event satisfies `predicate`; rejects if the stream ends first. */
  waitFor(what: string, predicate: (event: SseEvent) => boolean): Promise<SseEvent>;
  /** Reads until the stream ends; resolves with the number of events it carried in all. */
  drain(): Promise<number>;
  /** Stops reading and closes the connection. */
  close(): Promise<void>;
}

function parse(block: string): SseEvent | string | null {
  let event = "message";
  const data: string[] = [];
  let comment: string | null = null;
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) comment = line.slice(1).trim();
    else if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
  }
  if (data.length > 0) return { event, data: data.join("\n") };
  return comment;
}

/** Connects to `url` (an SSE endpoint) and checks it answers as one. */
export async function connectSse(url: string): Promise<SseClient> {
  const response = await fetch(url, { headers: { Accept: "text/event-stream" } });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`Failed to open ${url}: ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const ready: SseEvent[] = [];
  let buffer = "";
  let ended = false;

  async function next(): Promise<SseEvent | null> {
    while (ready.length === 0 && !ended) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buffer += value;
      for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
        const parsed = parse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (typeof parsed === "string") comments.push(parsed);
        else if (parsed !== null) {
          events.push(parsed);
          ready.push(parsed);
        }
      }
    }
    return ready.shift() ?? null;
  }

  async function close(): Promise<void> {
    ended = true;
    await reader.cancel().catch(() => {});
  }

  return {
    response,
    events,
    comments,
    next,
    async waitFor(what, predicate) {
      for (let event = await next(); event !== null; event = await next()) {
        if (predicate(event)) return event;
      }
      throw new Error(`The stream ended before ${what}`);
    },
    async drain() {
      while (await next() !== null) { /* count them all */ }
      return events.length;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
