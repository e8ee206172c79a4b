/**
 * The daemon's own HTTP app (`createApp`: Hono, its middleware and routes) answering
 * `/status` with one fixed body, for the `/status` benchmark's second baseline: everything
 * the daemon does for a request except computing the status.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read=STATUS.json scripts/_bench_app_server.ts STATUS.json
 * ```
 *
 * `STATUS.json` holds a `/status` body. Prints `app listening on http://HOST:PORT` once
 * serving; runs until killed.
 *
 * @module
 */
import { systemClock } from "../src/clock.ts";
import { createApp } from "../src/http/app.ts";
import type { StatusBody } from "../src/ops/status_body.ts";
import { createStreamHub } from "../src/feed/stream_hub.ts";
import { stateSummary } from "../src/ops/state_summary.ts";

async function main(): Promise<void> {
  const path = Deno.args[0];
  if (path === undefined) throw new TypeError("Failed to start: the status file is required");
  const body = JSON.parse(await Deno.readTextFile(path)) as StatusBody;
  const status = () => body;
  const streams = createStreamHub({
    lifecycle: { subscribe: () => () => {} },
    summary: () => JSON.stringify(stateSummary(status())),
    clock: systemClock(),
  });
  const app = createApp({
    status,
    streams,
    metrics: () => "",
    upgradeTicker: () =>
      Promise.resolve(new Response("This server answers /status only", { status: 404 })),
    loginUrl: () => Promise.resolve("http://127.0.0.1:9/connect/login"),
    callback: () =>
      Promise.resolve({
        kind: "refused",
        status: 400,
        code: "unused",
        message: "This server answers /status only",
      }),
  });
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ hostname, port }) => console.log(`app listening on http://${hostname}:${port}`),
  }, app.fetch);
}

if (import.meta.main) await main();
