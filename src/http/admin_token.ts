/**
 * The optional admin token: with `KITEKEEPER_ADMIN_TOKEN` set, every route but the open ones
 * (liveness, and the login/callback pair a browser must reach without it) answers 401 unless
 * the request carries `Authorization: Bearer <token>`. Hono's `bearerAuth` checks it.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { bearerAuth } from "hono/bearer-auth";

/** Options of {@linkcode adminToken}. */
export interface AdminTokenOptions {
  /** The token to demand; unset means no guard at all. */
  readonly token?: string | undefined;
  /** Paths served without the token, matched exactly. */
  readonly openPaths?: readonly string[];
}

/** The paths a service manager and a browser mid-login must reach without the token. */
export const OPEN_PATHS: readonly string[] = Object.freeze([
  "/livez",
  "/api/auth/login",
  "/api/auth/callback",
]);

const CHALLENGE = 'Bearer realm="kitekeeper"';

function refusal(message: string): Response {
  return Response.json({ error: "unauthorized", message }, { status: 401 });
}

/**
 * Demands `Authorization: Bearer <options.token>` on every path but `options.openPaths`
 * (default {@linkcode OPEN_PATHS}). Both sides are hashed before a constant-time compare, so
 * neither the content nor the length of the token leaks through timing. A missing or
 * malformed header (a Basic credential, a bare `Bearer`) gets the bare challenge (RFC 6750),
 * a wrong token `error="invalid_token"`; both are 401 with a JSON body.
 *
 * @example
 * ```ts
 * app.use(adminToken({ token: config.adminToken }));
 * ```
 */
export function adminToken(options: AdminTokenOptions = {}): MiddlewareHandler {
  const { token } = options;
  const open = new Set(options.openPaths ?? OPEN_PATHS);
  const missing = {
    wwwAuthenticateHeader: CHALLENGE,
    message: () => refusal("This route needs Authorization: Bearer <KITEKEEPER_ADMIN_TOKEN>"),
  };
  const guard = token === undefined ? undefined : bearerAuth({
    token,
    noAuthenticationHeader: missing,
    invalidAuthenticationHeader: missing,
    invalidToken: {
      wwwAuthenticateHeader: `${CHALLENGE}, error="invalid_token"`,
      message: () => refusal("The bearer token is not this kitekeeper's admin token"),
    },
  });

  return async function adminToken(c: Context, next: Next) {
    if (guard === undefined || open.has(c.req.path)) return await next();
    return await guard(c, next);
  };
}
