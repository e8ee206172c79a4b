/**
 * `GET /api/auth/login` and `GET /api/auth/callback`: the two ends of Kite's login.
 *
 * @module
 */
import { Hono } from "hono";
import type { CallbackOutcome, CallbackQuery } from "../token/login_flow.ts";
import { refusalPage } from "./pages.ts";
import { rateLimit } from "./rate_limit.ts";

/** What the auth routes need. */
export interface AuthRouteDeps {
  /** Kite's login URL carrying a fresh login state. */
  loginUrl(): Promise<string>;
  /** Runs the login callback. */
  callback(query: CallbackQuery): Promise<CallbackOutcome>;
}

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes("application/json") && !accept.includes("html");
}

/** The login redirect and the callback; a refusal is a page, or JSON when asked for. */
export function authRoutes(deps: AuthRouteDeps): Hono {
  const routes = new Hono();
  // Needs no credentials: rate-limited per peer, so a flood costs 429s, not work.
  routes.get("/api/auth/login", rateLimit(), async (c) => c.redirect(await deps.loginUrl(), 302));
  routes.get("/api/auth/callback", async (c) => {
    const query: CallbackQuery = {
      request_token: c.req.query("request_token"),
      status: c.req.query("status"),
      action: c.req.query("action"),
      type: c.req.query("type"),
      state: c.req.query("state"),
    };
    const outcome = await deps.callback(query);
    if (outcome.kind === "ok") return c.redirect("/", 302);
    if (wantsJson(c.req.header("Accept"))) {
      return c.json({ error: outcome.code, message: outcome.message }, outcome.status);
    }
    return c.html(refusalPage(outcome.message), outcome.status);
  });
  return routes;
}
