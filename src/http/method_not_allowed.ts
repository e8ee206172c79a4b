/**
 * 405 Method Not Allowed with an `Allow` header, for a path that has routes but none for the
 * request's method (`POST /status`), where Hono alone would answer 404.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { Router } from "hono/router";
import type { H, RouterRoute } from "hono/types";

/** Options of {@linkcode methodNotAllowed}. */
export interface MethodNotAllowedOptions {
  /** The app's router (`app.router`); read at request time, once every route is added. */
  readonly router: Router<[H, RouterRoute]>;
}

/** The methods a route can be registered for, in the order `Allow` lists them. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** Whether a route (not middleware, which Hono registers as `ALL`) takes `method` at `path`. */
function routed(router: MethodNotAllowedOptions["router"], method: string, path: string): boolean {
  // Hono answers HEAD with the GET route, minus the body.
  const asked = method === "HEAD" ? "GET" : method;
  return router.match(asked, path)[0].some(([[, route]]) => route.method === asked);
}

/**
 * Answers 405 with `Allow` when `c.req.path` has routes, but none for the method; passes
 * everything else on (a path with no route at all stays a 404).
 *
 * @example
 * ```ts
 * app.use(methodNotAllowed({ router: app.router }));
 * ```
 */
export function methodNotAllowed(options: MethodNotAllowedOptions): MiddlewareHandler {
  const { router } = options;

  return async function methodNotAllowed(c: Context, next: Next) {
    const { method, path } = c.req;
    if (routed(router, method, path)) return await next();
    const allowed = METHODS.filter((candidate) => routed(router, candidate, path));
    if (allowed.length === 0) return await next();
    c.header("Allow", allowed.join(", "));
    return c.json({
      error: "method_not_allowed",
      message: `${method} is not allowed on ${path}; use ${allowed.join(" or ")}`,
    }, 405);
  };
}
