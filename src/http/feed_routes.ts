/**
 * The feed, out: `GET /quotes` (the last tick of each instrument), `GET /stream` (ticks and
 * state changes as Server-Sent Events) and the page's script and style under `/assets/`.
 *
 * @module
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { FeedSnapshot } from "../feed/store.ts";
import type { Mode } from "../kite/packets.ts";
import type { StateName, StatusBody } from "../ops/status_body.ts";
import type { StreamHub } from "../feed/stream_hub.ts";
import { PAGE_SCRIPT, PAGE_STYLE } from "./page_assets.ts";

/** What the feed routes need. */
export interface FeedRouteDeps {
  /** The current /status body. */
  status(): StatusBody;
  /** Where `/stream` clients are served. */
  readonly streams: StreamHub;
}

/** `GET /quotes`'s body: the feed's last ticks, and the state they were received in. */
export interface QuotesBody {
  /** The lifecycle state now: quotes are current only while it is Live. */
  readonly state: StateName;
  readonly mode: Mode;
  readonly last_data_at: string | null;
  readonly instruments: FeedSnapshot["instruments"];
}

/** `/quotes`'s body out of the `/status` body. */
export function quotesBody(status: StatusBody): QuotesBody {
  const { state, feed } = status;
  return {
    state,
    mode: feed.mode,
    last_data_at: feed.last_data_at,
    instruments: feed.instruments,
  };
}

/**
 * The UTF-8 bytes of `text`, remembering the last text: the hub hands every `/stream` client
 * the same string for a state change or a heartbeat, so it is encoded once, not once a client
 * (tick flushes come as bytes already).
 */
function lastTextEncoder(): (text: string) => Uint8Array {
  const encoder = new TextEncoder();
  let lastText = "";
  let lastBytes = new Uint8Array();
  return function encode(text: string): Uint8Array {
    if (text !== lastText) {
      lastText = text;
      lastBytes = encoder.encode(text);
    }
    return lastBytes;
  };
}

/** `/quotes`, `/stream`, `/assets/page.js` and `/assets/page.css`. */
export function feedRoutes(deps: FeedRouteDeps): Hono {
  const routes = new Hono();
  const encode = lastTextEncoder();
  routes.get("/quotes", (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(quotesBody(deps.status()));
  });
  routes.get("/stream", (c) => {
    // Proxies such as nginx buffer responses unless told not to; a stream must flow.
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, (stream) =>
      deps.streams.serve({
        // Deno copies a response's chunks as it sends them: clients can share one buffer.
        write: (chunk) => stream.write(typeof chunk === "string" ? encode(chunk) : chunk),
        abort: () => stream.abort(),
        onAbort: (listener) => stream.onAbort(listener),
      }));
  });
  routes.get("/assets/page.js", (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(PAGE_SCRIPT);
  });
  routes.get("/assets/page.css", (c) => {
    c.header("Content-Type", "text/css; charset=utf-8");
    c.header("Cache-Control", "no-cache");
    return c.body(PAGE_STYLE);
  });
  return routes;
}
