/**
 * Limits on the request line and the headers, answered the way RFC 9110 and RFC 6585 name
 * them: 414 for a URL too long, 431 for headers too large or too many.
 *
 * The server (`Deno.serveHttp`, see `server.ts`) has its own, larger limits, enforced before any
 * handler runs: a request head (request line and headers) over about 400 KiB, or more than
 * about 100 headers, gets a bare `431` and the connection is closed; a client still sending may
 * see a reset instead. These limits sit well below that, so a client gets a status that says what was
 * wrong.
 *
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";

/** Options of {@linkcode requestLimits}. */
export interface RequestLimitsOptions {
  /** Longest request target (path and query), in characters; default 8192. */
  readonly maxUrlLength?: number;
  /** Largest sum of header names and values (plus `: ` and CRLF each); default 16384. */
  readonly maxHeaderBytes?: number;
  /** Most header fields; default 100. */
  readonly maxHeaderCount?: number;
}

/** The defaults: far above what Kite's callback or a browser sends, below the server's own. */
export const DEFAULT_REQUEST_LIMITS: Readonly<Required<RequestLimitsOptions>> = Object.freeze({
  maxUrlLength: 8192,
  maxHeaderBytes: 16384,
  maxHeaderCount: 100,
});

/** The request target of an absolute URL: everything after the origin. */
/** How many header fields, and their bytes as the limits count them (name, `: `, value, CRLF). */
export function headerLoad(headers: Headers): { bytes: number; count: number } {
  let bytes = 0;
  let count = 0;
  // forEach, not for…of: the same pairs without an iterator's objects, 1.4 µs against 5.8 µs
  // for four headers; every polled /status pays it (issue #15).
  headers.forEach((value, name) => {
    bytes += name.length + value.length + 4;
    count++;
  });
  return { bytes, count };
}

function targetLength(url: string): number {
  const afterScheme = url.indexOf("//");
  const slash = afterScheme === -1 ? -1 : url.indexOf("/", afterScheme + 2);
  return slash === -1 ? 1 : url.length - slash;
}

/**
 * Refuses a request whose target is longer than `maxUrlLength` (414) or whose headers are
 * larger than `maxHeaderBytes` or more than `maxHeaderCount` (431), before any route runs.
 *
 * @example
 * ```ts
 * app.use(requestLimits({ maxUrlLength: 4096 }));
 * ```
 */
export function requestLimits(options: RequestLimitsOptions = {}): MiddlewareHandler {
  const limits = { ...DEFAULT_REQUEST_LIMITS, ...options };

  return async function requestLimits(c: Context, next: Next) {
    const length = targetLength(c.req.url);
    if (length > limits.maxUrlLength) {
      return c.json({
        error: "uri_too_long",
        message: `The URL is ${length} characters; the limit is ${limits.maxUrlLength}`,
      }, 414);
    }
    const { bytes, count } = headerLoad(c.req.raw.headers);
    if (bytes > limits.maxHeaderBytes || count > limits.maxHeaderCount) {
      return c.json({
        error: "headers_too_large",
        message: `The headers are ${count} fields, ${bytes} bytes; the limits are ` +
          `${limits.maxHeaderCount} fields, ${limits.maxHeaderBytes} bytes`,
      }, 431);
    }
    return await next();
  };
}
