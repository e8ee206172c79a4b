/**
 * A webhook receiver for tests: a real HTTP server on a free loopback port that records
 * every request and answers as the test says, with a way to wait for the next request.
 *
 * @module
 */

/** One request the receiver got. */
export interface Received {
  readonly method: string;
  /** Path and query, e.g. `/bot123:ABC/sendMessage`. */
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
}

/** A running receiver; `close()` stops it once in-flight answers are done. */
export interface Receiver extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly received: readonly Received[];
  /** The next request not yet returned by `next()` (it may already have arrived). */
  next(): Promise<Received>;
  close(): Promise<void>;
}

/** How to answer request number `index` (0-based); may never settle, to hang the client. */
export type Respond = (request: Received, index: number) => Response | Promise<Response>;

/** Starts a receiver answering with `respond` (default: 200 `ok`). */
export async function startReceiver(
  respond: Respond = () => new Response("ok"),
): Promise<Receiver> {
  const received: Received[] = [];
  const waiting: ((request: Received) => void)[] = [];
  let cursor = 0;
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr),
  }, async (request) => {
    const url = new URL(request.url);
    const entry: Received = {
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers: request.headers,
      body: await request.text(),
    };
    const index = received.push(entry) - 1;
    waiting.shift()?.(entry);
    return await respond(entry, index);
  });
  const addr = await listening.promise;
  async function close(): Promise<void> {
    await server.shutdown();
  }
  return {
    url: `http://127.0.0.1:${addr.port}`,
    received,
    next() {
      const index = cursor++;
      const ready = received[index];
      if (ready !== undefined) return Promise.resolve(ready);
      // Requests arrive in order, so the waiters are served in order too.
      const { promise, resolve } = Promise.withResolvers<Received>();
      waiting.push(resolve);
      return promise;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
