/**
 * The optional admin token: with `KITEKEEPER_ADMIN_TOKEN` set, every route but the open ones
 * (liveness, and the login/callback pair a browser must reach without it) answers 401 unless
 * the request carries `Authorization: Bearer <token>`.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { timingSafeEqual } from "node:crypto";

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

const BEARER = /^Bearer +(\S+) *$/i;
const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Demands `Authorization: Bearer <options.token>` on every path but `options.openPaths`
 * (default {@linkcode OPEN_PATHS}). Both sides are hashed before a constant-time compare, so
 * neither the content nor the length of the token leaks through timing.
 *
 * @example
 * ```ts
 * app.use(adminToken({ token: config.adminToken }));
 * ```
 */
export function adminToken(options: AdminTokenOptions = {}): MiddlewareHandler {
  const { token } = options;
  const open = new Set(options.openPaths ?? OPEN_PATHS);
  const expected = token === undefined ? undefined : sha256(token);

  return async function adminToken(c: Context, next: Next) {
    if (expected === undefined || open.has(c.req.path)) return await next();
    const presented = BEARER.exec(c.req.header("Authorization") ?? "")?.[1];
    if (presented !== undefined && timingSafeEqual(await sha256(presented), await expected)) {
      return await next();
    }
    // RFC 6750: a missing token gets the bare challenge, a wrong one says so.
    const challenge = presented === undefined
      ? 'Bearer realm="kitekeeper"'
      : 'Bearer realm="kitekeeper", error="invalid_token"';
    c.header("WWW-Authenticate", challenge);
    return c.json({
      error: "unauthorized",
      message: presented === undefined
        ? "This route needs Authorization: Bearer <KITEKEEPER_ADMIN_TOKEN>"
        : "The bearer token is not this kitekeeper's admin token",
    }, 401);
  };
}
