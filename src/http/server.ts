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
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen: (addr) => listening.resolve(addr),
  }, (request, info) => handler(request, info));
  const addr = await listening.promise;

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    // Connections get the grace to finish; the ones left then are clients that stopped
    // reading. They are not aborted: in Deno 2.9.6 an abort after shutdown() has begun throws
    // BadResource from Deno's own listener, uncaught (exit 1), and leaves the server hanging.
    // The listener is closed already, so nobody new gets in; the process's exit (`run`
    // returns right after) drops what is left.
    let deadline: ReturnType<typeof setTimeout> | undefined;
    // A real timer on purpose: the grace is for real sockets, whatever clock the daemon runs on.
    const grace = new Promise<void>((resolve) => deadline = setTimeout(resolve, options.graceMs));
    try {
      await Promise.race([server.shutdown(), grace]);
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
