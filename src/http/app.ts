/**
 * The HTTP face of kitekeeper: `createApp(deps)` builds the Hono app; it reads snapshots and
 * calls the flows it is given, and never touches a socket.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { CallbackOutcome, CallbackQuery } from "../auth_flow.ts";
import type { StatusBody } from "../status_body.ts";
import { refusalPage, statusPage } from "./pages.ts";

/** What the routes need from the daemon. */
export interface AppDeps {
  /** The current /status body. */
  status(): StatusBody;
  /** Kite's login URL carrying a fresh login state. */
  loginUrl(): Promise<string>;
  /** Runs the login callback. */
  callback(query: CallbackQuery): Promise<CallbackOutcome>;
}

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes("application/json") && !accept.includes("html");
}

/** Builds the app: `/api/auth/login`, `/api/auth/callback`, `/status`, `/livez`, `/`. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.get("/livez", (c) => c.json({ ok: true }));

  app.get("/status", (c) => {
    const status = deps.status();
    c.header("Cache-Control", "no-store");
    return c.json(status, status.state === "Live" ? 200 : 503);
  });

  app.get("/", (c) => {
    c.header("Cache-Control", "no-store");
    return c.html(statusPage(deps.status()));
  });

  app.get("/api/auth/login", async (c) => c.redirect(await deps.loginUrl(), 302));

  app.get("/api/auth/callback", async (c) => {
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

  app.notFound((c) => c.json({ error: "not_found", message: `No route ${c.req.path}` }, 404));

  // One error handler: HTTP errors keep their status; anything else is a 500 that names no
  // internals (errors can carry request bodies, and those can carry secrets).
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json({ error: "http", message: error.message }, error.status);
    }
    console.error(`Failed to serve ${c.req.method} ${c.req.path}: ${error.name}`);
    return c.json({ error: "internal", message: "Internal error" }, 500);
  });

  return app;
}
