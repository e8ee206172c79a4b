/**
 * `/_sim/*`: the knobs tests and the demo turn to make Kite misbehave on cue. Loopback
 * peers only; anyone else gets 403.
 *
 * @module
 */
import { Hono } from "hono";
import { kiteError } from "../kite/kite_error.ts";
import type { SessionStore } from "./session_store.ts";
import type { TickerHub } from "./ticker_hub.ts";

/** What the control routes need. */
export interface ControlDeps {
  readonly sessions: SessionStore;
  readonly hub: TickerHub;
}

/** The connection info `Deno.serve` hands Hono as `c.env`. */
export interface PeerEnv {
  readonly remoteAddr?: { readonly hostname?: string };
}

/** Whether `hostname` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "::1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

function milliseconds(text: string | undefined): number {
  const ms = Number(text);
  if (text === undefined || text === "" || !Number.isInteger(ms) || ms < 0) {
    throw kiteError(400, "InputException", { message: "Expected `ms`, a whole number ≥ 0." });
  }
  return ms;
}

/** The `/_sim/*` routes. */
export function controlRoutes(deps: ControlDeps): Hono<{ Bindings: PeerEnv }> {
  const app = new Hono<{ Bindings: PeerEnv }>();
  app.use("/_sim/*", async function loopbackOnly(c, next) {
    if (!isLoopback(c.env?.remoteAddr?.hostname ?? "")) {
      throw kiteError(403, "InputException", { message: "Control routes answer loopback only." });
    }
    await next();
  });
  app.post("/_sim/session", (c) => c.json({ access_token: deps.sessions.issueAccessToken() }));
  app.post("/_sim/expire", (c) => {
    deps.sessions.expireAll();
    return c.json({ expired: true });
  });
  app.post("/_sim/drop", (c) => c.json({ dropped: deps.hub.drop() }));
  app.post("/_sim/stall", (c) => {
    const ms = milliseconds(c.req.query("ms"));
    deps.hub.stall(ms);
    return c.json({ stalled_ms: ms });
  });
  app.post("/_sim/garbage", (c) => c.json({ sent: deps.hub.sendGarbage() }));
  app.post("/_sim/text-error", (c) => {
    return c.json({ sent: deps.hub.sendTextError("Simulated error from the ticker") });
  });
  app.post("/_sim/refuse", (c) => {
    const ms = milliseconds(c.req.query("ms"));
    deps.hub.refuse(ms);
    return c.json({ refused_ms: ms });
  });
  app.get("/_sim/stats", (c) => c.json(deps.hub.stats()));
  return app;
}
