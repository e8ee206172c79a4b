/**
 * A bare relay, for the fan-out and endpoint benchmarks' baselines: one WebSocket to the
 * (simulated) ticker, and a bare `Deno.serve` with
 * - `/stream`, which sends, for every message, as many SSE tick frames as it has packets — a
 *   fixed frame of the daemon's size, encoded once and handed to every client;
 * - `/ws`, a WebSocket that gets every binary message of the ticker as it came (what a
 *   Kite-compatible endpoint sends a client subscribed to everything); what it is sent is
 *   ignored.
 *
 * No decoding, no state, no Hono: what moving the bytes costs. With `--listener daemon` it
 * serves through the daemon's own listener (`listenHttp`, on `Deno.serveHttp`, which the
 * daemon uses to own each connection) in place of `Deno.serve`: what that choice costs.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 scripts/_bench_relay.ts --ticker WS_URL --tokens 1,2,3 \
 *   [--listener serve|daemon]
 * ```
 *
 * Prints `relay listening on http://HOST:PORT` once serving. A `start` line on stdin starts
 * a window; the end of stdin ends it: one `{"relay":{"cpu_percent":…}}` line (this process's
 * CPU over the window from its own getrusage, % of one core) is printed and the relay exits.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { listenHttp } from "../src/http/server.ts";

/** A tick event as the daemon writes it, for a 1,000-rupee NSE equity. */
const FRAME = `event: tick\ndata: ${
  JSON.stringify({
    token: 25600001,
    name: "25600001",
    last_price: 1034.55,
    change: -12.35,
    change_percent: -1.1797690361634824,
    at: "2026-01-05T04:15:00.123Z",
  })
}\n\n`;

/** Waits for `start` and the end of stdin; returns CPU % of one core in between. */
async function cpuOverWindow(): Promise<number> {
  let startedAt = performance.now();
  let cpuAtStart = process.cpuUsage();
  let buffered = "";
  let started = false;
  for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    if (!started && buffered.includes("start\n")) {
      started = true;
      startedAt = performance.now();
      cpuAtStart = process.cpuUsage();
    }
  }
  const cpu = process.cpuUsage(cpuAtStart);
  return (cpu.user + cpu.system) / 1000 / (performance.now() - startedAt) * 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ticker: { type: "string" },
      tokens: { type: "string", default: "" },
      listener: { type: "string", default: "serve" },
    },
  });
  if (values.ticker === undefined) throw new TypeError("Failed to start: --ticker is required");
  if (values.listener !== "serve" && values.listener !== "daemon") {
    throw new TypeError("Failed to start: --listener is serve or daemon");
  }
  const tokens = values.tokens.split(",").filter((t) => t !== "").map(Number);
  const clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const sockets = new Set<WebSocket>();
  const encoder = new TextEncoder();

  const socket = new WebSocket(values.ticker);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    socket.send(JSON.stringify({ a: "subscribe", v: tokens }));
    socket.send(JSON.stringify({ a: "mode", v: ["full", tokens] }));
  };
  socket.onmessage = (event) => {
    const data = event.data;
    if (!(data instanceof ArrayBuffer)) return;
    for (const client of sockets) client.send(data);
    if (data.byteLength <= 1 || clients.size === 0) return;
    const packets = new DataView(data).getInt16(0);
    const bytes = encoder.encode(FRAME.repeat(packets));
    for (const client of clients) client.enqueue(bytes);
  };
  socket.onclose = () => Deno.exit(4);

  function handler(request: Request): Response {
    if (new URL(request.url).pathname === "/ws") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      return response;
    }
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        self = controller;
        clients.add(controller);
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
      },
      cancel() {
        if (self !== undefined) clients.delete(self);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
  if (values.listener === "daemon") {
    const http = await listenHttp({ hostname: "127.0.0.1", port: 0 }, { graceMs: 1000 });
    http.serve({ fetch: handler });
    console.log(`relay listening on ${http.url}`);
  } else {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ hostname, port }) =>
        console.log(`relay listening on http://${hostname}:${port}`),
    }, handler);
  }
  const cpuPercent = await cpuOverWindow();
  console.log(JSON.stringify({ relay: { cpu_percent: cpuPercent } }));
  Deno.exit(0);
}

if (import.meta.main) await main();
