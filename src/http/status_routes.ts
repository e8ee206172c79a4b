/**
 * `GET /status` (200 iff Live), `GET /livez` (200 while serving) and the page at `/`.
 *
 * @module
 */
import { Hono } from "hono";
import type { StatusBody } from "../ops/status_body.ts";
import { statusPage } from "./pages.ts";

/** What the status routes need. */
export interface StatusRouteDeps {
  /** The current /status body. */
  status(): StatusBody;
  /** The configured instruments, listed on the page before any tick arrives. */
  readonly instruments?: readonly number[];
}

/** Status for monitors, liveness for service managers, and the plain page. */
export function statusRoutes(deps: StatusRouteDeps): Hono {
  const routes = new Hono();
  // A restart never fixes an expired token, so liveness says only that we serve.
  routes.get("/livez", (c) => c.json({ ok: true }));
  routes.get("/status", (c) => {
    const status = deps.status();
    c.header("Cache-Control", "no-store");
    return c.json(status, status.state === "Live" ? 200 : 503);
  });
  routes.get("/", (c) => {
    c.header("Cache-Control", "no-store");
    const asked = c.req.query("page") ?? "1";
    if (!/^[1-9][0-9]{0,5}$/.test(asked)) {
      return c.text("Bad page: expected a whole number from 1, e.g. /?page=2", 400);
    }
    const page = Number(asked);
    return c.html(statusPage(deps.status(), { instruments: deps.instruments, page }));
  });
  return routes;
}
