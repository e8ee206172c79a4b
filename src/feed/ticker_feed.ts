/**
 * The ticker adapter as the daemon runs it: Kite's socket reports into the feed store, the
 * `/stream` hub and the lifecycle. Ticks are recorded and published; every message, ticks or
 * heartbeat, tells the lifecycle that data flows; a failure becomes a `SocketFailed`.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Endpoint } from "../endpoint/endpoint.ts";
import { createTickerPort, type TickerPort } from "../kite/ticker.ts";
import type { Event } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";
import type { FeedStore } from "./store.ts";
import type { StreamHub } from "./stream_hub.ts";

/** Options of {@linkcode connectTickerFeed}. */
export interface TickerFeedOptions {
  readonly apiKey: string;
  /** Where the latest ticks and the counters are kept. */
  readonly feed: FeedStore;
  /** Where ticks are fanned out to `/stream` clients. */
  readonly streams: Pick<StreamHub, "publish">;
  /** The Kite-compatible endpoint: Kite's bytes and order updates, passed on as they came. */
  readonly endpoint: Pick<Endpoint, "publish" | "forward">;
  /** Delivers a lifecycle event (the actor's `send`). */
  send(event: Event): void;
  readonly clock: Clock;
  readonly log: Logger;
  /** The handshake's time limit; default 10 s. */
  readonly handshakeTimeoutMs?: number | undefined;
  /** Gets every binary message but heartbeats, as Kite sent it (for the journal). */
  readonly onMessage?: ((gen: number, raw: Uint8Array) => void) | undefined;
}

/** The lifecycle's socket port; disposing it closes every socket. */
export interface TickerFeed extends TickerPort, AsyncDisposable {}

/** Creates the socket port for Kite's ticker at `tickerUrl`, reporting as described above. */
export function connectTickerFeed(tickerUrl: string, options: TickerFeedOptions): TickerFeed {
  const { feed, streams, endpoint, send, clock, log } = options;
  const port = createTickerPort(tickerUrl, {
    apiKey: options.apiKey,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    timers: clock,
    handlers: {
      opened: (gen) => send({ type: "SocketOpened", gen }),
      // First, before decoding: local programs wait on these bytes; the rest is bookkeeping.
      received: (_gen, raw) => endpoint.publish(raw),
      binary(gen, decoded, raw) {
        const at = clock.now();
        if (decoded.kind === "ticks") {
          options.onMessage?.(gen, raw);
          const kept = feed.record(decoded.ticks, at);
          if (kept.length > 0) streams.publish(kept, at);
          if (decoded.errors > 0) {
            feed.countErrors(decoded.errors);
            log("warn", `Skipped ${decoded.errors} malformed part(s) of a binary message`);
          }
        } else {
          feed.touch(at);
        }
        send({ type: "DataReceived", gen });
      },
      text(gen, message) {
        if (message.type === "error") {
          send({ type: "TextError", gen, message: String(message.data) });
        } else if (message.type === "order") {
          endpoint.forward(JSON.stringify({ type: "order", data: message.data }));
        } else if (message.type === "invalid") {
          log("warn", `Kite sent an unreadable text message: ${message.reason}`);
        } else {
          log("debug", `Kite sent a ${message.type} message`);
        }
      },
      failed: (gen, failure) =>
        send({ type: "SocketFailed", gen, kind: failure.kind, detail: failure.detail }),
    },
  });
  return { ...port, [Symbol.asyncDispose]: port.closeAll };
}
