/**
 * Response headers that make the pages inert to framing, sniffing and leaking: Hono's
 * `secureHeaders` on every answer (`nosniff`, `no-referrer`, `X-Frame-Options: DENY`,
 * same-origin isolation), plus what depends on the content: a strict Content-Security-Policy
 * on HTML, `no-store` on HTML and JSON.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** Options of {@linkcode securityHeaders}. */
export interface SecurityHeadersOptions {
  /** The HTML pages' policy; default {@linkcode PAGE_CSP}. */
  readonly contentSecurityPolicy?: string;
}

/**
 * What the pages need and nothing else: their own script and style files (`/assets/*`) and
 * the `/stream` they subscribe to, all from this origin; nothing inline, no images, no
 * fonts, no forms; no framing by anyone.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Adds Hono's secure headers to every response (`X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` for browsers without
 * `frame-ancestors`, and the cross-origin isolation ones; no HSTS: kitekeeper usually serves
 * plain HTTP, and HSTS is the TLS proxy's to set); to HTML, the CSP unless the route set its
 * own; to HTML and JSON, `Cache-Control: no-store` unless the route set its own.
 * Runs after the route (and after `onError`), so refusals and errors get them too.
 *
 * @example
 * ```ts
 * app.use(securityHeaders());
 * ```
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  const csp = options.contentSecurityPolicy ?? PAGE_CSP;
  const common = secureHeaders({ xFrameOptions: "DENY", strictTransportSecurity: false });

  return async function securityHeaders(c: Context, next: Next) {
    await common(c, next);
    const headers = c.res.headers;
    const type = headers.get("Content-Type") ?? "";
    const html = type.startsWith("text/html");
    // A page that needs another policy sets its own; none goes without.
    if (html && !headers.has("Content-Security-Policy")) {
      headers.set("Content-Security-Policy", csp);
    }
    // Status, tokens' fingerprints and refusals are about now: no cache keeps them.
    if ((html || type.startsWith("application/json")) && !headers.has("Cache-Control")) {
      headers.set("Cache-Control", "no-store");
    }
  };
}
