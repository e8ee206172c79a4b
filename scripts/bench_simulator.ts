/**
 * Benchmark: what the simulator costs at Kite's limits. `kitekeeper simulate --tick-ms
 * 1000` runs as its own process; this one opens 3 sockets (Kite's limit an api_key) and
 * subscribes 3000 instruments on each (9000, Kite's limit), in a mode, and counts what
 * arrives. Measured over a window: the simulator's CPU as % of one core
 * (`/proc/<pid>/stat`, 10 ms steps) and its RSS. Baseline, in the same run: the same
 * simulator with the 3 sockets open and nothing subscribed (heartbeats only).
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-env --allow-run=deno,cat \
 *   scripts/bench_simulator.ts [--window-s N] [--mode ltp|quote|full]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { optionTokens } from "../src/simulator/instruments.ts";
import { cpuPercent, freePort, KITE, procSample, spawnDeno } from "./_bench_process.ts";
import { delay, round } from "./_bench_stats.ts";

const SOCKETS = 3;
const PER_SOCKET = 3000;
const MB = 1024 * 1024;

interface Counter {
  messages: number;
  packets: number;
  bytes: number;
  heartbeats: number;
}

function openSocket(url: string, counter: Counter): Promise<WebSocket> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (typeof event.data === "string") return;
    const bytes = event.data as ArrayBuffer;
    counter.messages++;
    counter.bytes += bytes.byteLength;
    if (bytes.byteLength < 2) counter.heartbeats++;
    else counter.packets += new DataView(bytes).getUint16(0);
  };
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) => reject(new Error(`Failed to open ${url}: ${event.type}`));
  });
}

async function measure(pid: number, windowMs: number, counter: Counter) {
  const start = { ...counter };
  const before = await procSample(pid);
  await delay(windowMs);
  const after = await procSample(pid);
  return {
    cpuPercent: round(cpuPercent(before, after, windowMs), 2),
    rssMb: round(after.rssBytes / MB, 1),
    packetsPerS: round((counter.packets - start.packets) * 1000 / windowMs, 0),
    heartbeatsPerS: round((counter.heartbeats - start.heartbeats) * 1000 / windowMs, 2),
    kbPerS: round((counter.bytes - start.bytes) / 1024 * 1000 / windowMs, 0),
  };
}

/** Runs the simulator child, idle and then at 9000 instruments, and prints both. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "window-s": { type: "string", default: "30" },
      mode: { type: "string", default: "full" },
    },
  });
  const windowMs = Number(values["window-s"]) * 1000;
  const mode = values.mode;
  const port = await freePort();
  await using sim = spawnDeno([
    "run",
    "--allow-net",
    "main.ts",
    "simulate",
    "--listen",
    `127.0.0.1:${port}`,
    "--api-key",
    KITE.apiKey,
    "--api-secret",
    KITE.apiSecret,
    "--user-id",
    KITE.userId,
    "--password",
    "bench",
    "--redirect-url",
    "http://127.0.0.1:9/cb",
    "--tick-ms",
    "1000",
  ]);
  const ready = await sim.stdout.waitFor(/simulator ready (http:\/\/\S+)/, 30_000);
  const origin = ready[1] as string;
  const counter: Counter = { messages: 0, packets: 0, bytes: 0, heartbeats: 0 };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const response = await fetch(`${origin}/_sim/session`, { method: "POST" });
    const { access_token } = await response.json();
    const url = `${
      origin.replace(/^http/, "ws")
    }/ws?api_key=${KITE.apiKey}&access_token=${access_token}`;
    sockets.push(await openSocket(url, counter));
  }
  await delay(2000);
  console.error(`idle: ${SOCKETS} sockets, nothing subscribed, ${windowMs / 1000} s`);
  const idle = await measure(sim.pid, windowMs, counter);
  const tokens = optionTokens(SOCKETS * PER_SOCKET);
  sockets.forEach((socket, i) => {
    const mine = tokens.slice(i * PER_SOCKET, (i + 1) * PER_SOCKET);
    socket.send(JSON.stringify({ a: "subscribe", v: mine }));
    socket.send(JSON.stringify({ a: "mode", v: [mode, mine] }));
  });
  await delay(3000);
  console.error(`busy: ${tokens.length} instruments in ${mode} mode at 1 Hz, ${windowMs / 1000} s`);
  const busy = await measure(sim.pid, windowMs, counter);
  for (const socket of sockets) socket.close();
  console.log(JSON.stringify({ mode, instruments: tokens.length, idle, busy }, null, 2));
}

if (import.meta.main) await main();
