/**
 * api.kite.trade, simulated: the session exchange, the profile and the logout, with Kite v3's
 * response shapes and error bodies.
 *
 * @module
 */
import { Hono } from "hono";
import type { CallCounts } from "./call_counts.ts";
import type { InjectedErrors } from "./injected_errors.ts";
import { kiteError } from "../kite/kite_error.ts";
import type { SessionStore } from "./session_store.ts";
import { istWallClock } from "../market/ist_time.ts";

/** What the REST routes need. */
export interface RestDeps {
  readonly apiKey: string;
  readonly userId: string;
  readonly userName: string;
  readonly sessions: SessionStore;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** Errors `/_sim/reject?target=rest` queued for the next calls. */
  readonly rejects: InjectedErrors;
  /** Every call, by `METHOD path`, for `/_sim/stats`. */
  readonly calls: CallCounts;
}

/** Each REST route and the methods it answers; another method gets 405. */
const ROUTES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "/session/token": ["POST", "DELETE"],
  "/user/profile": ["GET"],
});

const INVALID_SESSION = "Incorrect `api_key` or `access_token`.";

function profile(deps: RestDeps) {
  const shortName = deps.userName.split(" ")[0] ?? deps.userName;
  return {
    user_id: deps.userId,
    user_type: "individual",
    email: `${deps.userId.toLowerCase()}@example.com`,
    user_name: deps.userName,
    user_shortname: shortName,
    broker: "ZERODHA",
    exchanges: ["NSE", "NFO", "BFO", "CDS", "BSE", "MCX", "BCD", "MF"],
    products: ["CNC", "NRML", "MIS", "BO", "CO"],
    order_types: ["MARKET", "LIMIT", "SL", "SL-M"],
    avatar_url: null,
    meta: { demat_consent: "physical" },
  };
}

function required(form: FormData | URLSearchParams, name: string): string {
  const value = form.get(name);
  if (typeof value !== "string" || value === "") {
    throw kiteError(400, "InputException", { message: `Missing or empty field \`${name}\`.` });
  }
  return value;
}

/** Reads `Authorization: token api_key:access_token`; throws Kite's 403 when not live. */
function requireSession(header: string | undefined, sessions: SessionStore): void {
  const match = /^token ([^:\s]+):(\S+)$/.exec(header ?? "");
  if (match === null || !sessions.isLive(match[1] as string, match[2] as string)) {
    throw kiteError(403, "TokenException", { message: INVALID_SESSION });
  }
}

/** The `/session/token` and `/user/profile` routes. */
export function restRoutes(deps: RestDeps): Hono {
  const app = new Hono();
  for (const path of Object.keys(ROUTES)) {
    app.use(path, async function countAndInject(c, next) {
      deps.calls.add(`${c.req.method} ${path}`);
      const injected = deps.rejects.take();
      if (injected !== undefined) {
        throw kiteError(injected.status, injected.errorType, { message: injected.message });
      }
      await next();
    });
  }
  app.post("/session/token", async (c) => {
    // A body that is not a form has no fields: Kite answers that with InputException too.
    const form = await c.req.formData().catch(() => new FormData());
    const apiKey = required(form, "api_key");
    const requestToken = required(form, "request_token");
    const checksum = required(form, "checksum");
    if (apiKey !== deps.apiKey) {
      throw kiteError(403, "TokenException", { message: "Invalid `api_key`." });
    }
    const result = deps.sessions.exchange(requestToken, checksum);
    if (result.kind === "bad_checksum") {
      throw kiteError(403, "TokenException", { message: "Invalid `checksum`." });
    }
    if (result.kind === "bad_request_token") {
      throw kiteError(403, "TokenException", { message: "Token is invalid or has expired." });
    }
    const data = {
      ...profile(deps),
      api_key: deps.apiKey,
      access_token: result.accessToken,
      public_token: result.publicToken,
      enctoken: "",
      refresh_token: "",
      silo: "",
      login_time: istWallClock(deps.now()),
    };
    return c.json({ status: "success", data });
  });
  app.get("/user/profile", (c) => {
    requireSession(c.req.header("Authorization"), deps.sessions);
    return c.json({ status: "success", data: profile(deps) });
  });
  app.delete("/session/token", (c) => {
    const query = new URL(c.req.url).searchParams;
    const apiKey = required(query, "api_key");
    const accessToken = required(query, "access_token");
    if (apiKey !== deps.apiKey || !deps.sessions.invalidate(accessToken)) {
      throw kiteError(403, "TokenException", { message: INVALID_SESSION });
    }
    return c.json({ status: "success", data: true });
  });
  for (const [path, methods] of Object.entries(ROUTES)) {
    // Reached only by a method the routes above do not answer (HEAD is GET's).
    app.all(path, () => {
      throw kiteError(405, "GeneralException", {
        message: "Method not allowed.",
        headers: { allow: methods.join(", ") },
      });
    });
  }
  return app;
}
