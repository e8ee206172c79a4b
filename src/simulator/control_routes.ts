/**
 * `/_sim/*`: the knobs tests and the demo turn to make Kite misbehave on cue. Loopback
 * peers only; anyone else gets 403.
 *
 * @module
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { InjectedError, InjectedErrors } from "./injected_errors.ts";
import { isKiteErrorType, KITE_ERROR_TYPES, kiteError } from "../kite/kite_error.ts";
import { istDate } from "../market/ist_time.ts";
import { orderUpdateText } from "./order_update.ts";
import type { SessionStore } from "./session_store.ts";
import type { TickerHub } from "./ticker_hub.ts";

/** What the control routes need. */
export interface ControlDeps {
  readonly sessions: SessionStore;
  readonly hub: TickerHub;
  /** Errors for the next handshakes and the next REST calls. */
  readonly rejects: { readonly ticker: InjectedErrors; readonly rest: InjectedErrors };
  /** What `GET /_sim/stats` answers. */
  readonly stats: () => object;
  /** The profile's user_id, for order updates. */
  readonly userId: string;
  /** Epoch milliseconds. */
  readonly now: () => number;
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

const MAX_COUNT = 1_000_000;

function bad(message: string): never {
  throw kiteError(400, "InputException", { message });
}

/** Reads `/_sim/reject`'s query: which error, how many times, for what. */
function rejection(query: (name: string) => string | undefined): {
  error: InjectedError;
  count: number;
  target: "ticker" | "rest";
} {
  const type = query("error_type") ?? "TokenException";
  if (!isKiteErrorType(type)) {
    bad(`Unknown \`error_type\` "${type}": one of ${Object.keys(KITE_ERROR_TYPES).join(", ")}.`);
  }
  const statusText = query("status");
  const status = statusText === undefined ? KITE_ERROR_TYPES[type].status : Number(statusText);
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    bad("Expected `status`, a whole number 400–599.");
  }
  const countText = query("count") ?? "1";
  const count = Number(countText);
  if (countText === "" || !Number.isInteger(count) || count < 0 || count > MAX_COUNT) {
    bad(`Expected \`count\`, a whole number 0–${MAX_COUNT} (0 clears).`);
  }
  const target = query("target") ?? "ticker";
  if (target !== "ticker" && target !== "rest") bad("Expected `target`, ticker or rest.");
  const message = query("message") ?? KITE_ERROR_TYPES[type].message;
  return {
    error: { status: status as ContentfulStatusCode, errorType: type, message },
    count,
    target,
  };
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
  app.post("/_sim/logout", (c) => c.json({ logged_out: deps.sessions.expireAll() }));
  app.post("/_sim/reject", (c) => {
    const { error, count, target } = rejection((name) => c.req.query(name));
    const queue = deps.rejects[target];
    if (count === 0) queue.clear();
    else queue.push(error, count);
    return c.json({
      target,
      status: error.status,
      error_type: error.errorType,
      pending: queue.pending(),
    });
  });
  app.post("/_sim/drop", (c) => c.json({ dropped: deps.hub.drop() }));
  app.post("/_sim/stall", (c) => {
    const ms = milliseconds(c.req.query("ms"));
    deps.hub.stall(ms);
    return c.json({ stalled_ms: ms });
  });
  app.post("/_sim/garbage", (c) => c.json({ sent: deps.hub.sendGarbage() }));
  let orders = 0;
  app.post("/_sim/order", (c) => {
    // Kite's order ids are 15 digits: the IST date (YYMMDD) and a sequence.
    const day = istDate(deps.now()).slice(2).replaceAll("-", "");
    const orderId = `${day}${String(++orders).padStart(9, "0")}`;
    const sent = deps.hub.sendText(
      orderUpdateText({ userId: deps.userId, orderId, at: deps.now() }),
    );
    return c.json({ sent, order_id: orderId });
  });
  // A body, when given, is the error text (hostile text for the log tests).
  app.post("/_sim/text-error", async (c) => {
    const body = await c.req.text();
    return c.json({ sent: deps.hub.sendTextError(body || "Simulated error from the ticker") });
  });
  app.post("/_sim/refuse", (c) => {
    const ms = milliseconds(c.req.query("ms"));
    deps.hub.refuse(ms);
    return c.json({ refused_ms: ms });
  });
  app.get("/_sim/stats", (c) => c.json(deps.stats()));
  return app;
}
