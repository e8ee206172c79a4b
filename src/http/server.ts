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
   * or from its previous response (ms); then it is closed, within a fifth of this more (one
   * sweep of all connections per fifth). Default {@linkcode HEAD_TIMEOUT_MS}.
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
 * per-connection hook. Its machinery on one accepted connection (`Deno[Deno.internal]`'s
 * `serveHttpOnConnection`) would be as fast as `Deno.serve`, where this one answers `/status` at
 * about 0.8× of its rate per CPU-second; but it closes the connection once hyper hands it
 * over at a WebSocket upgrade, and the upgraded socket with it (issue #15).
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

function internalError(): Response {
  return new Response("Internal Server Error", { status: 500 });
}

/**
 * What a handler is told of its request. `completed` is made only when asked for: most
 * handlers never ask, and a promise per request showed in the `/status` profile (issue #15).
 */
class ServeInfo implements Deno.ServeHandlerInfo<Deno.NetAddr> {
  readonly remoteAddr: Deno.NetAddr;
  #completed: PromiseWithResolvers<void> | undefined;

  constructor(remoteAddr: Deno.NetAddr) {
    this.remoteAddr = remoteAddr;
  }

  get completed(): Promise<void> {
    if (this.#completed === undefined) {
      this.#completed = Promise.withResolvers<void>();
      this.#completed.promise.catch(() => {}); // Observed by whoever asked for it.
    }
    return this.#completed.promise;
  }

  /** Resolves `completed`, if anybody asked for it. */
  sent(): void {
    this.#completed?.resolve();
  }

  /** Rejects `completed`, if anybody asked for it. */
  failed(error: unknown): void {
    this.#completed?.reject(new Deno.errors.Interrupted(`Failed to respond: ${String(error)}`));
  }
}

/** One open connection, and the sweep at which it started waiting for a request head. */
interface Connection {
  readonly http: HttpConn;
  /** The sweep count when it last started waiting; {@linkcode ANSWERING} while it answers. */
  waitingSince: number;
}

const ANSWERING = -1;

/**
 * Sweeps per head deadline: a connection is closed at most a fifth of the deadline after it.
 * One timer for every connection, running only while one is open, in place of a timer and a
 * `Promise.race` per request (those, with the per-request promises below, held the daemon to
 * 0.56× of a bare `Deno.serve`, issue #15); counting sweeps leaves a request two stores.
 */
const SWEEPS_PER_DEADLINE = 5;

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
  const open = new Set<Connection>();
  const served = new Set<Promise<void>>();
  let stopping = false;
  let sweeps = 0;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  function close(http: HttpConn): void {
    try {
      http.close();
    } catch {
      // Closed already.
    }
  }

  function sweep(): void {
    sweeps++;
    for (const connection of open) {
      const since = connection.waitingSince;
      // Its head is late: closing it ends its nextRequest(), and so its loop.
      if (since !== ANSWERING && sweeps - since > SWEEPS_PER_DEADLINE) close(connection.http);
    }
  }

  async function respond(event: RequestEvent, remoteAddr: Deno.NetAddr): Promise<void> {
    const info = new ServeInfo(remoteAddr);
    let response: Response | Promise<Response>;
    try {
      const answer = handler(event.request, info);
      // A synchronous answer (the hot routes') is handed over as it is: no promise to wait on.
      response = answer instanceof Response
        ? uncompressed(answer)
        : answer.then(uncompressed, internalError);
    } catch {
      response = internalError();
    }
    try {
      await event.respondWith(response);
      info.sent();
    } catch (error: unknown) {
      info.failed(error);
      throw error;
    }
  }

  async function serveConnection(conn: Deno.Conn): Promise<void> {
    const connection: Connection = { http: serveHttp(conn), waitingSince: sweeps };
    const remoteAddr = conn.remoteAddr as Deno.NetAddr;
    open.add(connection);
    sweeper ??= setInterval(sweep, headTimeoutMs / SWEEPS_PER_DEADLINE);
    try {
      while (!stopping) {
        connection.waitingSince = sweeps;
        const event = await connection.http.nextRequest();
        // null: the client closed, or the sweep closed it as its head was late.
        if (event === null || stopping) break;
        connection.waitingSince = ANSWERING;
        // HTTP/1.1 answers in order; after a WebSocket upgrade nextRequest() gives null.
        await respond(event, remoteAddr);
      }
    } catch {
      // A peer that went away mid-answer, or a connection the sweep closed: nothing to tell.
    } finally {
      open.delete(connection);
      if (open.size === 0) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
      close(connection.http);
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
        // No Nagle: a small write (an SSE frame, a /ws message) sent while the one before is
        // not yet acknowledged would otherwise wait for the peer's delayed ACK, up to 40 ms
        // (seen: a rotation's first /stream frames ~30 ms late).
        try {
          (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          // A peer gone already: its first read ends the connection.
        }
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
    for (const connection of open) {
      if (connection.waitingSince !== ANSWERING) close(connection.http);
    }
    let deadline: ReturnType<typeof setTimeout> | undefined;
    // A real timer on purpose: the grace is for real sockets, whatever clock the daemon runs on.
    const grace = new Promise<void>((resolve) => deadline = setTimeout(resolve, options.graceMs));
    try {
      await Promise.race([Promise.all(served), grace]);
    } finally {
      clearTimeout(deadline);
    }
    for (const connection of open) close(connection.http);
    clearInterval(sweeper);
    sweeper = undefined;
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
