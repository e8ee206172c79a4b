/**
 * A bare `Deno.serveHttp` listener answering every request with one fixed response: the
 * `/status` benchmark's ceiling for the daemon's listener architecture (`src/http/server.ts`
 * owns each connection through `Deno.serveHttp`), beside the bare `Deno.serve`.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=RESPONSE.json scripts/_bench_bare_serve_http_server.ts RESPONSE.json
 * ```
 *
 * `RESPONSE.json` is as for `_bench_bare_server.ts`. Prints
 * `serveHttp listening on http://HOST:PORT` once serving; runs until killed.
 *
 * @module
 */
import { fixedResponseOf } from "./_bench_bare_server.ts";

interface RequestEvent {
  respondWith(response: Response): Promise<void>;
}

interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
}

async function serveConnection(conn: Deno.Conn, respond: () => Response): Promise<void> {
  const http = (Deno as unknown as { serveHttp: (conn: Deno.Conn) => HttpConn }).serveHttp(conn);
  try {
    for (let event = await http.nextRequest(); event !== null; event = await http.nextRequest()) {
      await event.respondWith(respond());
    }
  } catch {
    // The client went away.
  }
}

async function main(): Promise<void> {
  const respond = await fixedResponseOf(Deno.args);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { hostname, port } = listener.addr;
  console.log(`serveHttp listening on http://${hostname}:${port}`);
  for await (const conn of listener) {
    // As the daemon's listener (server.ts) and Deno.serve do.
    conn.setNoDelay(true);
    serveConnection(conn, respond);
  }
}

if (import.meta.main) await main();
