/**
 * `GET /ws`: the Kite-compatible ticker endpoint's upgrade (see `src/endpoint/endpoint.ts`).
 * Served on every listen address and also under `KITEKEEPER_PUBLIC_URL`'s path, for a proxy
 * that forwards its prefix. Official Kite clients send no `Authorization` header, so the
 * admin token does not guard these paths: the endpoint's own credential rule does.
 *
 * @module
 */
import { Hono } from "hono";

/** What the ticker route needs. */
export interface TickerRouteDeps {
  /** Answers a `/ws` request: the upgrade, or Kite's refusal. */
  upgradeTicker(request: Request): Promise<Response>;
}

/** The paths `/ws` is served on: `/ws`, and `<prefix>/ws` when `publicUrl` has a path. */
export function tickerPaths(publicUrl: string): string[] {
  const prefix = new URL(publicUrl).pathname.replace(/\/+$/, "");
  return prefix === "" ? ["/ws"] : ["/ws", `${prefix}/ws`];
}

/** `GET` on each of `paths`. */
export function tickerRoutes(deps: TickerRouteDeps, paths: readonly string[]): Hono {
  const routes = new Hono();
  for (const path of paths) routes.get(path, (c) => deps.upgradeTicker(c.req.raw));
  return routes;
}
