/**
 * The HTTP face of kitekeeper: `createApp(deps)` mounts the route groups on one Hono app with
 * one error handler. Routes read snapshots and call the flows they are given; none touches
 * a socket.
 *
 * @module
 */
import { logSafe } from "../log.ts";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type AuthRouteDeps, authRoutes } from "./auth_routes.ts";
import { type StatusRouteDeps, statusRoutes } from "./status_routes.ts";
import { type MetricsRouteDeps, metricsRoutes } from "./metrics_routes.ts";
import { type FeedRouteDeps, feedRoutes } from "./feed_routes.ts";
import { type TickerRouteDeps, tickerRoutes } from "./ticker_routes.ts";
import { adminToken, OPEN_PATHS } from "./admin_token.ts";
import { methodNotAllowed } from "./method_not_allowed.ts";
import { requestLimits } from "./request_limits.ts";
import { securityHeaders } from "./security_headers.ts";

/** What the routes need from the daemon. */
export type AppDeps =
  & AuthRouteDeps
  & StatusRouteDeps
  & MetricsRouteDeps
  & FeedRouteDeps
  & TickerRouteDeps;

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /** When set, every route but `/livez` and the login/callback pair needs it as a bearer. */
  readonly adminToken?: string | undefined;
  /** Where the Kite-compatible `/ws` is served (`tickerPaths(publicUrl)`); default `/ws`. */
  readonly tickerPaths?: readonly string[];
}

/** Builds the app: `/api/auth/login`, `/api/auth/callback`, `/status`, `/livez`, `/`, `/ws`. */
export function createApp(deps: AppDeps, options: AppOptions = {}): Hono {
  const app = new Hono();
  // Outermost first: headers go on every answer, limits and the token come before any route.
  app.use(securityHeaders());
  app.use(requestLimits());
  const wsPaths = options.tickerPaths ?? ["/ws"];
  app.use(adminToken({ token: options.adminToken, openPaths: [...OPEN_PATHS, ...wsPaths] }));
  app.use(methodNotAllowed({ router: app.router }));
  app.route("/", statusRoutes(deps));
  app.route("/", authRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", feedRoutes(deps));
  app.route("/", tickerRoutes(deps, wsPaths));

  app.notFound((c) => c.json({ error: "not_found", message: `No route ${c.req.path}` }, 404));

  // One error handler: HTTP errors keep their status; anything else is a 500 that names no
  // internals (errors can carry request bodies, and those can carry secrets).
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      // A middleware that built its own answer (the admin token's 401) keeps it.
      if (error.res !== undefined) return error.getResponse();
      return c.json({ error: "http", message: error.message }, error.status);
    }
    console.error(logSafe(`Failed to serve ${c.req.method} ${c.req.path}: ${error.name}`));
    return c.json({ error: "internal", message: "Internal error" }, 500);
  });

  return app;
}
