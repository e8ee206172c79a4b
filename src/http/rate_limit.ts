/**
 * A per-peer token bucket as Hono middleware: past its burst, a peer gets 429 with
 * `Retry-After` until the bucket refills. The peer is the connection's remote address (behind
 * a reverse proxy every request shares the proxy's, so the limit is then a global one).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** Options of {@linkcode rateLimit}. */
export interface RateLimitOptions {
  /** Requests a peer may make at once; default 30. */
  readonly burst?: number;
  /** Requests a second a peer's bucket regains; default 2. */
  readonly perSecond?: number;
  /** Peers remembered at most; past it the longest-idle one is forgotten. Default 4096. */
  readonly maxPeers?: number;
  /** Epoch ms; default `Date.now`. */
  readonly now?: () => number;
}

/** The remote address; none for a request made in-process (`app.request()`), not limited. */
function peerOf(env: unknown): string | undefined {
  const addr = (env as { remoteAddr?: { hostname?: unknown } } | undefined)?.remoteAddr;
  return typeof addr?.hostname === "string" ? addr.hostname : undefined;
}

/** Limits each peer to `burst` requests at once, refilled at `perSecond`. */
export function rateLimit(options: RateLimitOptions = {}): MiddlewareHandler {
  const burst = options.burst ?? 30;
  const perSecond = options.perSecond ?? 2;
  const maxPeers = options.maxPeers ?? 4096;
  const now = options.now ?? Date.now;
  // peer → bucket; re-inserted on each request, so the first entry is the longest idle.
  const buckets = new Map<string, { tokens: number; at: number }>();

  return async function rateLimit(c, next) {
    const peer = peerOf(c.env);
    if (peer === undefined) {
      await next();
      return undefined;
    }
    const at = now();
    const bucket = buckets.get(peer) ?? { tokens: burst, at };
    buckets.delete(peer);
    bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * perSecond);
    bucket.at = at;
    buckets.set(peer, bucket);
    if (buckets.size > maxPeers) buckets.delete(buckets.keys().next().value!);
    if (bucket.tokens < 1) {
      const wait = Math.ceil((1 - bucket.tokens) / perSecond);
      c.header("Retry-After", String(wait));
      return c.json({ error: "rate_limited", message: `Too many logins; retry in ${wait} s` }, 429);
    }
    bucket.tokens -= 1;
    await next();
    return undefined;
  };
}
