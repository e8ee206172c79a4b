/**
 * A bare `Deno.serve` answering every request with one fixed response, for the `/status`
 * benchmark's baseline: the same status, headers and body bytes the daemon sent, with no
 * routing, middleware or state.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=RESPONSE.json scripts/_bench_bare_server.ts RESPONSE.json
 * ```
 *
 * `RESPONSE.json` holds `{"status":200,"headers":[[name,value],…],"body":"…"}`. Prints
 * `bare listening on http://HOST:PORT` once serving; runs until killed.
 *
 * @module
 */

/** The response the bare server repeats. */
export interface FixedResponse {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

/** A new `Response` each call, as the file named by the first argument describes. */
export async function fixedResponseOf(args: readonly string[]): Promise<() => Response> {
  const path = args[0];
  if (path === undefined) throw new TypeError("Failed to start: the response file is required");
  const fixed = JSON.parse(await Deno.readTextFile(path)) as FixedResponse;
  const body = new TextEncoder().encode(fixed.body);
  const headers = fixed.headers.map(([name, value]) => [name, value] as [string, string]);
  return () => new Response(body, { status: fixed.status, headers });
}

async function main(): Promise<void> {
  const respond = await fixedResponseOf(Deno.args);
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ hostname, port }) => console.log(`bare listening on http://${hostname}:${port}`),
  }, () => respond());
}

if (import.meta.main) await main();
