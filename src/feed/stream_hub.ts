/**
 * The fan-out behind `GET /stream`: ticks and state changes, as Server-Sent Events, to every
 * connected client.
 *
 * The tick path stays cheap: with no client connected `publish()` returns at once (no JSON,
 * no timer). With clients, ticks wait in one map keyed by instrument, so a burst collapses to
 * the latest tick of each instrument per flush, and a flush is written once, as UTF-8, and the
 * same bytes handed to every client. Every client has its own bounded queue and its own writer: a client whose queue
 * fills (it stopped reading, and the socket buffers are full) is dropped, and nobody waits
 * for it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Clock, TimerId } from "../clock.ts";
import type { InstrumentQuote } from "./store.ts";
import { tickFrames } from "./tick_frame.ts";
import type { Tick } from "../kite/packets.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { Snapshot } from "../lifecycle/machine.ts";

/** The `data` of an `event: tick`: one instrument's latest quote. */
export interface TickEvent extends InstrumentQuote {
  readonly token: number;
}

/** Where one client's events go. Hono's `SSEStreamingApi` (from `streamSSE`) fits. */
export interface SseSink {
  /** Writes text or UTF-8 bytes as is; resolves once the stream took them. */
  write(chunk: string | Uint8Array): Promise<unknown>;
  /** Ends the stream now, whatever is still queued. */
  abort(): void;
  /** Called when the stream ends from either side. */
  onAbort(listener: () => void): void;
}

/** Options of {@linkcode createStreamHub}. */
export interface StreamHubOptions {
  /** The lifecycle whose state changes are sent. */
  readonly lifecycle: Pick<Actor, "subscribe">;
  /**
   * The `data` of an `event: state`, as JSON: read on connect and on each state change (the
   * daemon gives `/status`'s summary); an unchanged text is not sent again.
   */
  summary(): string;
  /** Timers for flushes and heartbeats. */
  readonly clock: Clock;
  /**
   * At most one flush of ticks per this period; default 100 ms. Ticks after a quiet spell go
   * out on the next turn of the event loop; ticks sooner after a flush wait out the period,
   * coalesced.
   */
  readonly flushMs?: number;
  /** How often an idle comment keeps proxies from closing the stream; default 15 s. */
  readonly heartbeatMs?: number;
  /**
   * Events a client may have waiting before it is dropped; default 512. A client with
   * nothing waiting takes any one flush, however many instruments it carries.
   */
  readonly maxQueued?: number;
  /** The reconnect delay told to `EventSource`; default 2 s. */
  readonly retryMs?: number;
}

/** Counters of a {@linkcode StreamHub}. */
export interface StreamHubStats {
  /** Clients connected now. */
  readonly clients: number;
  /** Clients dropped because their queue filled. */
  readonly dropped_total: number;
}

/** Fans ticks and state changes out to SSE clients. */
export interface StreamHub extends AsyncDisposable {
  /** Offers `ticks` received at `at` (epoch ms); a no-op while nobody listens. */
  publish(ticks: readonly Tick[], at: number): void;
  /**
   * Serves one client until it leaves, is dropped, or the hub closes: first an
   * `event: state`, then ticks and state changes.
   */
  serve(sink: SseSink): Promise<void>;
  stats(): StreamHubStats;
  /** Ends every stream and stops the timers; later clients are ended at once. */
  close(): Promise<void>;
}

interface Client {
  readonly sink: SseSink;
  /** What is not yet handed to the sink, as broadcast (each piece may hold many frames). */
  readonly queue: (string | Uint8Array)[];
  /** How many events (frames) `queue` holds. */
  queued: number;
  writing: boolean;
  readonly ended: PromiseWithResolvers<void>;
}

const HEARTBEAT_FRAME = ": keepalive\n\n";

/** `chunks` as one piece: text if all are text, else UTF-8 bytes. */
function joined(chunks: readonly (string | Uint8Array)[]): string | Uint8Array {
  if (chunks.every((chunk) => typeof chunk === "string")) return chunks.join("");
  return Buffer.concat(
    chunks.map((chunk) => typeof chunk === "string" ? Buffer.from(chunk) : chunk),
  );
}

function stateFrame(data: string): string {
  return `event: state\ndata: ${data}\n\n`;
}

/** What a page shows changed: anything else (e.g. a data timestamp) is not a state event. */
function shownChange(snapshot: Snapshot, previous: Snapshot): boolean {
  return snapshot.state !== previous.state || snapshot.loginNeeded !== previous.loginNeeded ||
    snapshot.expectedExpiry !== previous.expectedExpiry || snapshot.userId !== previous.userId;
}

/**
 * Creates a hub that listens to `options.lifecycle` until closed. Feed it from the ticker's
 * handler with `publish()`, and hand it each `/stream` response's stream with `serve()`.
 *
 * @example
 * ```ts
 * const summary = () => JSON.stringify(stateSummary(status()));
 * const hub = createStreamHub({ lifecycle: actor, summary, clock });
 * routes.get("/stream", (c) => streamSSE(c, (stream) => hub.serve(stream)));
 * ```
 */
export function createStreamHub(options: StreamHubOptions): StreamHub {
  const { clock, flushMs = 100, heartbeatMs = 15_000, maxQueued = 512, retryMs = 2000 } = options;
  const clients = new Set<Client>();
  const pending = new Map<number, { tick: Tick; at: number }>();
  const frames = tickFrames();
  let flushTimer: TimerId | undefined;
  let lastFlushAt = Number.NEGATIVE_INFINITY;
  let heartbeatTimer: TimerId | undefined;
  let lastState = "";
  let droppedTotal = 0;
  let closed = false;

  function end(client: Client): void {
    if (!clients.delete(client)) return;
    client.queue.length = 0;
    client.queued = 0;
    client.ended.resolve();
    if (clients.size > 0) return;
    // Nobody listens: nothing may wait or tick on their behalf.
    pending.clear();
    if (flushTimer !== undefined) clock.clearTimeout(flushTimer);
    if (heartbeatTimer !== undefined) clock.clearTimeout(heartbeatTimer);
    flushTimer = undefined;
    heartbeatTimer = undefined;
  }

  function drop(client: Client): void {
    droppedTotal += 1;
    end(client);
    client.sink.abort();
  }

  async function pump(client: Client): Promise<void> {
    client.writing = true;
    try {
      while (client.queue.length > 0 && clients.has(client)) {
        // Everything queued goes in one write; a slow client gets fewer, larger writes.
        const chunk = client.queue.length === 1
          ? client.queue[0] as string | Uint8Array
          : joined(client.queue);
        client.queue.length = 0;
        client.queued = 0;
        await client.sink.write(chunk);
      }
    } catch {
      drop(client);
    } finally {
      client.writing = false;
    }
  }

  function enqueue(client: Client, chunk: string | Uint8Array, events: number): void {
    // The limit bounds a backlog: one flush of 3000 instruments is more frames than that.
    if (client.queued > 0 && client.queued + events > maxQueued) return drop(client);
    client.queue.push(chunk);
    client.queued += events;
    if (!client.writing) void pump(client);
  }

  /** Hands `chunk`, holding `events` frames, to every client: the same one to all. */
  function broadcast(chunk: string | Uint8Array, events: number): void {
    for (const client of [...clients]) enqueue(client, chunk, events);
  }

  function flush(): void {
    if (flushTimer !== undefined) clock.clearTimeout(flushTimer);
    flushTimer = undefined;
    if (pending.size === 0) return;
    lastFlushAt = clock.now();
    // The ticks of one message share a receive time: format it once, not once a tick.
    let lastAt = Number.NaN;
    let atText = "";
    for (const { tick, at } of pending.values()) {
      if (at !== lastAt) {
        lastAt = at;
        atText = new Date(at).toISOString();
      }
      frames.add(tick, atText);
    }
    pending.clear();
    const events = frames.count;
    broadcast(frames.take(), events);
  }

  function heartbeat(): void {
    heartbeatTimer = undefined;
    if (clients.size === 0) return;
    broadcast(HEARTBEAT_FRAME, 1);
    heartbeatTimer = clock.setTimeout(heartbeat, heartbeatMs);
  }

  function currentState(): string {
    lastState = options.summary();
    return lastState;
  }

  const unsubscribe = options.lifecycle.subscribe(function stateChanged(snapshot, previous) {
    if (clients.size === 0 || !shownChange(snapshot, previous)) return;
    // Ticks received before the change go out before it, and before its summary is computed:
    // the first data on a new socket is what makes it Live.
    flush();
    const before = lastState;
    if (currentState() === before) return;
    broadcast(stateFrame(lastState), 1);
  });

  function close(): Promise<void> {
    if (closed) return Promise.resolve();
    closed = true;
    unsubscribe();
    for (const client of [...clients]) {
      end(client);
      client.sink.abort();
    }
    return Promise.resolve();
  }

  return {
    publish(ticks, at) {
      if (clients.size === 0) return;
      for (const tick of ticks) pending.set(tick.instrument_token, { tick, at });
      // A timer even when due now: ticks read in the same turn go out together.
      flushTimer ??= clock.setTimeout(flush, Math.max(0, lastFlushAt + flushMs - clock.now()));
    },
    serve(sink) {
      if (closed) return Promise.resolve();
      const client: Client = {
        sink,
        queue: [],
        queued: 0,
        writing: false,
        ended: Promise.withResolvers(),
      };
      clients.add(client);
      sink.onAbort(() => end(client));
      heartbeatTimer ??= clock.setTimeout(heartbeat, heartbeatMs);
      enqueue(client, `retry: ${retryMs}\n\n${stateFrame(currentState())}`, 2);
      return client.ended.promise;
    },
    stats: () => ({ clients: clients.size, dropped_total: droppedTotal }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
