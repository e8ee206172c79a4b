/**
 * The daemon's HTTP listener. It binds first, so the rest of the daemon can be built knowing
 * the bound address, and serves the app once it is handed one; a request that arrives before
 * then waits for it. Closing lets in-flight requests finish within a grace period, then drops
 * what is left. It owns each connection: a request head must arrive within a deadline, and
 * one peer may hold only so many connections (issue #12's slow-header clients).
 *
 * @module
 */
import { type HostPort, httpOrigin } from "../host_port.ts";

/** Options of {@linkcode listenHttp}. */
export interface ListenHttpOptions {
  /** How long in-flight requests may take to finish on close (ms). */
  readonly graceMs: number;
  /**
   * How long a connection may take to send a complete request head, counted from its opening
   * or from its previous response (ms); then it is closed. Default {@linkcode HEAD_TIMEOUT_MS}.
   */
  readonly headTimeoutMs?: number;
  /** Open connections one peer address may hold; more are closed at once. Default 32. */
  readonly maxConnectionsPerPeer?: number;
}

/** The default time to a complete request head: a client sending a byte a second is cut. */
export const HEAD_TIMEOUT_MS = 10_000;

/** The default cap on one peer's open connections. */
export const MAX_CONNECTIONS_PER_PEER = 32;

/** A bound listener; dispose it to shut it down. */
export interface HttpListener extends AsyncDisposable {
  /** Where it serves, e.g. `http://127.0.0.1:8000` (the bound port, not 0). */
  readonly url: string;
  /** Starts answering with `app`; call once. */
  serve(app: { fetch: Deno.ServeHandler }): void;
}

interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): Promise<void>;
}

interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
  close(): void;
}

/**
 * `Deno.serveHttp`: gone from Deno 2's types and linted as removed, yet still in 2.9.6's
 * runtime, and the one API that hands over each connection. `Deno.serve` has no timeout on a
 * request head (a client sending a header byte every 2 s stayed connected past 70 s) and no
 * per-connection hook.
 */
function serveHttp(conn: Deno.Conn): HttpConn {
  const deno = Deno as unknown as { serveHttp?: (conn: Deno.Conn) => HttpConn };
  if (deno.serveHttp === undefined) {
    throw new Error(`Failed to serve HTTP: Deno ${Deno.version.deno} has no Deno.serveHttp`);
  }
  return deno.serveHttp(conn);
}

/**
 * `response`, marked `Content-Encoding: identity` unless it names an encoding. `Deno.serveHttp`
 * compresses (brotli, gzip) whatever a client accepts that way, even a body of known length: CPU
 * on every polled `/status`, and a `Content-Length` counting the compressed bytes.
 */
function uncompressed(response: Response): Response {
  if (response.status === 101 || response.headers.has("content-encoding")) return response;
  try {
    response.headers.set("content-encoding", "identity");
  } catch {
    // Immutable headers (a Response.redirect()): sent as they are.
  }
  return response;
}

/** Resolves with `next`, or with null once `ms` pass first. */
async function within<T>(next: Promise<T | null>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  try {
    return await Promise.race([next, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Binds `listen` and resolves once listening; requests wait until `serve()` is called. */
export function listenHttp(
  listen: HostPort,
  options: ListenHttpOptions,
): Promise<HttpListener> {
  const headTimeoutMs = options.headTimeoutMs ?? HEAD_TIMEOUT_MS;
  const maxPerPeer = options.maxConnectionsPerPeer ?? MAX_CONNECTIONS_PER_PEER;
  const app = Promise.withResolvers<Deno.ServeHandler>();
  let handler: Deno.ServeHandler = async (request, info) => (await app.promise)(request, info);
  const listener = Deno.listen({ hostname: listen.hostname, port: listen.port });
  const addr = listener.addr;
  const perPeer = new Map<string, number>();
  // Each open connection, and whether it waits for a request head (idle) or answers one.
  const open = new Map<HttpConn, { idle: boolean }>();
  const served = new Set<Promise<void>>();
  let stopping = false;

  async function respond(event: RequestEvent, remoteAddr: Deno.NetAddr): Promise<void> {
    const completed = Promise.withResolvers<void>();
    completed.promise.catch(() => {}); // Observed by whoever asks for it.
    const info: Deno.ServeHandlerInfo<Deno.NetAddr> = { remoteAddr, completed: completed.promise };
    const response = (async () => uncompressed(await handler(event.request, info)))().catch(() => {
      return new Response("Internal Server Error", { status: 500 });
    });
    try {
      await event.respondWith(response);
      completed.resolve();
    } catch (error: unknown) {
      completed.reject(new Deno.errors.Interrupted(`Failed to respond: ${String(error)}`));
      throw error;
    }
  }

  async function serveConnection(conn: Deno.Conn): Promise<void> {
    const http = serveHttp(conn);
    const state = { idle: true };
    open.set(http, state);
    try {
      while (!stopping) {
        state.idle = true;
        const event = await within(http.nextRequest(), headTimeoutMs);
        // null: the client closed, or its head did not arrive in time.
        if (event === null || stopping) break;
        state.idle = false;
        // HTTP/1.1 answers in order; after a WebSocket upgrade nextRequest() gives null.
        await respond(event, conn.remoteAddr as Deno.NetAddr);
      }
    } catch {
      // A peer that went away mid-answer: nothing to tell anybody.
    } finally {
      open.delete(http);
      try {
        http.close();
      } catch {
        // Closed already.
      }
    }
  }

  async function accept(): Promise<void> {
    try {
      for await (const conn of listener) {
        const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
        const count = perPeer.get(peer) ?? 0;
        if (count >= maxPerPeer) {
          conn.close();
          continue;
        }
        perPeer.set(peer, count + 1);
        const serving = serveConnection(conn).finally(() => {
          const left = (perPeer.get(peer) ?? 1) - 1;
          if (left === 0) perPeer.delete(peer);
          else perPeer.set(peer, left);
          served.delete(serving);
        });
        served.add(serving);
      }
    } catch {
      // The listener closed under the loop.
    }
  }
  const accepting = accept();

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    stopping = true;
    listener.close();
    await accepting;
    // Idle connections close now; busy ones get the grace to finish their answer. Those left
    // then are clients that stopped reading: closed, and the process's exit drops the rest.
    for (const [http, state] of open) if (state.idle) http.close();
    let deadline: ReturnType<typeof setTimeout> | undefined;
    // A real timer on purpose: the grace is for real sockets, whatever clock the daemon runs on.
    const grace = new Promise<void>((resolve) => deadline = setTimeout(resolve, options.graceMs));
    try {
      await Promise.race([Promise.all(served), grace]);
    } finally {
      clearTimeout(deadline);
    }
    for (const http of open.keys()) {
      try {
        http.close();
      } catch {
        // Closed already.
      }
    }
  }

  return Promise.resolve({
    url: httpOrigin(addr.hostname, addr.port),
    serve(served_) {
      handler = served_.fetch;
      app.resolve(served_.fetch);
    },
    [Symbol.asyncDispose]: () => closing ??= shutdown(),
  });
}

/**
 * The URL the world reaches this kitekeeper at: `KITEKEEPER_PUBLIC_URL`, or, when that was
 * derived from a listen address on port 0, the address actually bound (`boundUrl`).
 */
export function publicUrlOf(
  config: { readonly listen: HostPort; readonly publicUrl: string },
  boundUrl: string,
): string {
  const derived = config.listen.port === 0 &&
    config.publicUrl === httpOrigin(config.listen.hostname, 0);
  return derived ? boundUrl : config.publicUrl;
}
