/**
 * The polled routes (`GET`/`HEAD` of `/status`, `/livez`, `/quotes`) answered ahead of the
 * app: monitors and dashboards poll them, and going through Hono and its middleware cost
 * more than computing the body. Each body is kept as bytes for at most `maxAgeMs` (or until
 * `invalidate()`, which the daemon calls on every lifecycle change) and re-encoded only when
 * its text changed; the answers carry the same status, body and
 * headers as the app's (the security headers included). Anything else — another method, a
 * query string, the admin token in force for that path, headers over the request limits —
 * goes to the app, which answers it as before.
 *
 * @module
 */
import type { StatusBody } from "../ops/status_body.ts";
import { OPEN_PATHS } from "./admin_token.ts";
import { quotesBody } from "./feed_routes.ts";
import { DEFAULT_REQUEST_LIMITS, headerLoad } from "./request_limits.ts";

/** A server's request handler, as `Deno.serve` takes it. */
type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** The app with its polled routes in front. */
export interface HotRoutes {
  /** Hand this to the server in place of the app's. */
  readonly fetch: Handler;
  /** Drops the kept bodies: the next request computes them (the daemon calls it on each state change). */
  invalidate(): void;
}

/** Options of {@linkcode hotRoutes}. */
export interface HotRoutesOptions {
  /** The current /status body. */
  status(): StatusBody;
  /**
   * Milliseconds on a monotonic scale, for the bodies' age (the daemon: `performance.now`,
   * real time, since the cache is about real request load whatever clock the daemon runs on).
   */
  now(): number;
  /** How long a body may be served before it is computed again (ms); default 100. */
  readonly maxAgeMs?: number;
  /** The app's admin token: paths it guards go to the app when one is set. */
  readonly adminToken?: string | undefined;
}

interface Cached {
  text: string;
  bytes: Uint8Array<ArrayBuffer>;
  code: number;
  builtAt: number;
  /** A HEAD answer's headers: a GET's, with the body's length. */
  headHeaders: Headers;
}

/**
 * What every JSON answer of the app carries (security_headers.ts, the routes' no-store), and
 * the `identity` the server would otherwise set on each answer (server.ts). One `Headers`, copied
 * by each `Response`: nothing is built or changed per request.
 */
const JSON_HEADERS: readonly [string, string][] = [
  ["content-type", "application/json"],
  ["cache-control", "no-store"],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["content-encoding", "identity"],
];

const encoder = new TextEncoder();

/** The path of an absolute request URL, query included; "" if there is none. */
function pathOf(url: string): string {
  const authority = url.indexOf("//");
  const slash = authority === -1 ? -1 : url.indexOf("/", authority + 2);
  return slash === -1 ? "" : url.slice(slash);
}

/**
 * Wraps `app` so the polled routes skip it. Hand the result to the server in place of the
 * app.
 *
 * @example
 * ```ts
 * const hot = hotRoutes(app, { status, now: () => performance.now(), adminToken });
 * actor.subscribe(hot.invalidate);
 * listener.serve(hot);
 * ```
 */
export function hotRoutes(app: { fetch: Handler }, options: HotRoutesOptions): HotRoutes {
  const maxAgeMs = options.maxAgeMs ?? 100;
  const getHeaders = new Headers(JSON_HEADERS as [string, string][]);
  const guarded = (path: string) => options.adminToken !== undefined && !OPEN_PATHS.includes(path);
  const bodies: Record<string, (status: StatusBody) => { body: unknown; code: number }> = {
    "/livez": () => ({ body: { ok: true }, code: 200 }),
    "/status": (status) => ({ body: status, code: status.state === "Live" ? 200 : 503 }),
    "/quotes": (status) => ({ body: quotesBody(status), code: 200 }),
  };
  const drops: (() => void)[] = [];
  const served = new Map<string, (status: () => StatusBody) => Cached>();
  for (const [path, build] of Object.entries(bodies)) {
    if (guarded(path)) continue;
    let cached: Cached | undefined;
    drops.push(() => cached = undefined);
    served.set(path, function current(status) {
      const now = options.now();
      if (cached !== undefined && now - cached.builtAt < maxAgeMs && now >= cached.builtAt) {
        return cached;
      }
      const { body, code } = build(status());
      const text = JSON.stringify(body);
      // Most polls find nothing changed: keep the bytes already encoded.
      if (cached !== undefined && cached.text === text) {
        cached = { ...cached, code, builtAt: now };
        return cached;
      }
      const bytes = encoder.encode(text);
      const headHeaders = new Headers(getHeaders);
      headHeaders.set("content-length", String(bytes.byteLength));
      cached = { text, bytes, code, builtAt: now, headHeaders };
      return cached;
    });
  }

  return {
    invalidate() {
      for (const drop of drops) drop();
    },
    fetch(request, info) {
      const method = request.method;
      const current = method === "GET" || method === "HEAD"
        ? served.get(pathOf(request.url))
        : undefined;
      if (current === undefined) return app.fetch(request, info);
      const load = headerLoad(request.headers);
      if (
        load.bytes > DEFAULT_REQUEST_LIMITS.maxHeaderBytes ||
        load.count > DEFAULT_REQUEST_LIMITS.maxHeaderCount
      ) {
        return app.fetch(request, info);
      }
      const { bytes, code, headHeaders } = current(options.status);
      return method === "HEAD"
        ? new Response(null, { status: code, headers: headHeaders })
        : new Response(bytes, { status: code, headers: getHeaders });
    },
  };
}
