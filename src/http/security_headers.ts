/**
 * Response headers that make the pages inert to framing, sniffing and leaking: a strict
 * Content-Security-Policy on HTML, `no-store` on JSON, `nosniff` and `no-referrer` on all.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";

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
 * Adds `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` to every
 * response; to HTML, the CSP (unless the route set its own) and `X-Frame-Options: DENY` (for
 * browsers without `frame-ancestors`); to HTML and JSON, `Cache-Control: no-store` unless the
 * route set its own.
 * Runs after the route (and after `onError`), so refusals and errors get them too.
 *
 * @example
 * ```ts
 * app.use(securityHeaders());
 * ```
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  const csp = options.contentSecurityPolicy ?? PAGE_CSP;

  return async function securityHeaders(c: Context, next: Next) {
    await next();
    const headers = c.res.headers;
    headers.set("X-Content-Type-Options", "nosniff");
    headers.set("Referrer-Policy", "no-referrer");
    const type = headers.get("Content-Type") ?? "";
    const html = type.startsWith("text/html");
    if (html) {
      // A page that needs another policy sets its own; none goes without.
      if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", csp);
      headers.set("X-Frame-Options", "DENY");
    }
    // Status, tokens' fingerprints and refusals are about now: no cache keeps them.
    if ((html || type.startsWith("application/json")) && !headers.has("Cache-Control")) {
      headers.set("Cache-Control", "no-store");
    }
  };
}
