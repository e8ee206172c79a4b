/**
 * The daemon's HTTP listener. It binds first, so the rest of the daemon can be built knowing
 * the bound address, and serves the app once it is handed one; a request that arrives before
 * then waits for it. Closing lets in-flight requests finish within a grace period, then drops
 * what is left.
 *
 * @module
 */
import { type HostPort, httpOrigin } from "../host_port.ts";

/** Options of {@linkcode listenHttp}. */
export interface ListenHttpOptions {
  /** How long in-flight requests may take to finish on close (ms). */
  readonly graceMs: number;
}

/** A bound listener; dispose it to shut it down. */
export interface HttpListener extends AsyncDisposable {
  /** Where it serves, e.g. `http://127.0.0.1:8000` (the bound port, not 0). */
  readonly url: string;
  /** Starts answering with `app`; call once. */
  serve(app: { fetch: Deno.ServeHandler }): void;
}

/** Binds `listen` and resolves once listening; requests wait until `serve()` is called. */
export async function listenHttp(
  listen: HostPort,
  options: ListenHttpOptions,
): Promise<HttpListener> {
  const app = Promise.withResolvers<Deno.ServeHandler>();
  let handler: Deno.ServeHandler = async (request, info) => (await app.promise)(request, info);
  const listening = Promise.withResolvers<Deno.NetAddr>();
  // Aborting the server is the only way to drop a connection whose client stopped reading.
  const abort = new AbortController();
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    signal: abort.signal,
    onListen: (addr) => listening.resolve(addr),
  }, (request, info) => handler(request, info));
  const addr = await listening.promise;

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    // A real timer on purpose: the grace is for real sockets, whatever clock the daemon runs on.
    const deadline = setTimeout(() => abort.abort(), options.graceMs);
    try {
      await server.shutdown();
    } finally {
      clearTimeout(deadline);
    }
  }

  return {
    url: httpOrigin(addr.hostname, addr.port),
    serve(served) {
      handler = served.fetch;
      app.resolve(served.fetch);
    },
    [Symbol.asyncDispose]: () => closing ??= shutdown(),
  };
}
