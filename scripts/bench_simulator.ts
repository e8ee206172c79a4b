/**
 * Benchmark: what the simulator costs at Kite's limits. `kitekeeper simulate --tick-ms
 * 1000` runs as its own process; this one opens 3 sockets (Kite's limit an api_key) and
 * subscribes 3000 instruments on each (9000, Kite's limit) in full mode, and counts what
 * arrives. Measured over a window: the simulator's CPU as % of one core
 * (`/proc/<pid>/stat`, 10 ms steps) and its RSS. Baselines, in the same run: for CPU, this
 * process receiving the same feed on its 3 sockets (it only counts packets; its own
 * `process.cpuUsage()`, in microseconds); for RSS, the same simulator before anything was
 * subscribed. The idle simulator's CPU (3 sockets, heartbeats only) is in the details.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-env --allow-run=deno,cat \
 *   scripts/bench_simulator.ts [--window-s N] [--mode ltp|quote|full]
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import type { Mode } from "../src/kite/packets.ts";
import { optionTokens } from "../src/simulator/instruments.ts";
import {
  cpuPercent,
  freePort,
  KITE,
  type ProcSample,
  procSample,
  spawnDeno,
} from "./_bench_process.ts";
import { type BenchResult, delay, epochMs, figure, round } from "./_bench_stats.ts";

/** Options of {@linkcode benchSimulator}. */
export interface SimulatorBenchOptions {
  /** Where to write a V8 CPU profile of the simulator (`--cpu-prof-dir`); none by default. */
  readonly profileDir?: string;
  /** Instruments on each of the 3 sockets; default 3000 (Kite's limit). */
  readonly perSocket?: number;
  readonly mode?: Mode;
  /** Each measured window; default 30 s. */
  readonly windowMs?: number;
  /** Time after subscribing before measuring; default 3 s. */
  readonly warmupMs?: number;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

const SOCKETS = 3;
const MB = 1024 * 1024;

interface Counter {
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
    counter.bytes += bytes.byteLength;
    if (bytes.byteLength < 2) counter.heartbeats++;
    else counter.packets += new DataView(bytes).getUint16(0);
  };
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = (event) => reject(new Error(`Failed to open ${url}: ${event.type}`));
  });
}

interface Window {
  readonly cpu: number;
  /** This process's own CPU over the window, % of one core. */
  readonly receiverCpu: number;
  readonly after: ProcSample;
  readonly packetsPerS: number;
  readonly kbPerS: number;
  readonly heartbeatsPerS: number;
}

async function measure(pid: number, windowMs: number, counter: Counter): Promise<Window> {
  const start = { ...counter };
  const before = await procSample(pid);
  const started = epochMs();
  const ownBefore = process.cpuUsage();
  await delay(windowMs);
  const own = process.cpuUsage(ownBefore);
  const after = await procSample(pid);
  const elapsed = epochMs() - started;
  const perS = (n: number) => n * 1000 / elapsed;
  return {
    cpu: cpuPercent(before, after, elapsed),
    receiverCpu: (own.user + own.system) / 1000 / elapsed * 100,
    after,
    packetsPerS: perS(counter.packets - start.packets),
    kbPerS: perS((counter.bytes - start.bytes) / 1024),
    heartbeatsPerS: perS(counter.heartbeats - start.heartbeats),
  };
}

/** Runs the simulator as a child, idle and then at 3 × `perSocket` instruments; reports both. */
export async function benchSimulator(options: SimulatorBenchOptions = {}): Promise<BenchResult> {
  const perSocket = options.perSocket ?? 3000;
  const mode = options.mode ?? "full";
  const windowMs = options.windowMs ?? 30_000;
  const warmupMs = options.warmupMs ?? 3000;
  const log = options.log ?? (() => {});
  const port = await freePort();
  await using sim = spawnDeno([
    "run",
    "--allow-net",
    ...(options.profileDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]),
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
    "http://127.0.0.1:9/api/auth/callback",
    "--tick-ms",
    "1000",
  ]);
  const origin = (await sim.stdout.waitFor(/simulator ready (http:\/\/\S+)/, 30_000))[1] as string;
  const counter: Counter = { packets: 0, bytes: 0, heartbeats: 0 };
  const sockets: WebSocket[] = [];
  try {
    for (let i = 0; i < SOCKETS; i++) {
      const response = await fetch(`${origin}/_sim/session`, { method: "POST" });
      const { access_token } = await response.json();
      const query = `api_key=${KITE.apiKey}&access_token=${access_token}`;
      sockets.push(await openSocket(`${origin.replace(/^http/, "ws")}/ws?${query}`, counter));
    }
    const seconds = `${windowMs / 1000} s`;
    log(`simulator: idle, ${SOCKETS} sockets, nothing subscribed, ${seconds}`);
    await delay(warmupMs);
    const idle = await measure(sim.pid, windowMs, counter);
    const tokens = optionTokens(SOCKETS * perSocket);
    sockets.forEach((socket, i) => {
      const mine = tokens.slice(i * perSocket, (i + 1) * perSocket);
      socket.send(JSON.stringify({ a: "subscribe", v: mine }));
      socket.send(JSON.stringify({ a: "mode", v: [mode, mine] }));
    });
    log(`simulator: ${tokens.length} instruments in ${mode} mode at 1 Hz, ${seconds}`);
    await delay(warmupMs);
    const busy = await measure(sim.pid, windowMs, counter);
    return {
      figures: [
        figure({
          key: "simulator.cpu_percent",
          benchmark: "simulator",
          name: `simulator CPU, ${tokens.length} instruments ${mode} at 1 Hz on ${SOCKETS} sockets`,
          unit: "% of a core",
          value: round(busy.cpu, 3),
          baseline: {
            name: "a bare client receiving the same feed",
            value: round(busy.receiverCpu, 3),
          },
        }),
        figure({
          key: "simulator.rss_mb",
          benchmark: "simulator",
          name: "simulator RSS at the end",
          unit: "MB",
          value: round(busy.after.rssBytes / MB, 1),
          baseline: {
            name: "the same, nothing subscribed",
            value: round(idle.after.rssBytes / MB, 1),
          },
        }),
      ],
      details: {
        window_ms: windowMs,
        warmup_ms: warmupMs,
        instruments: tokens.length,
        mode,
        tick_ms: 1000,
        idle_cpu_percent: round(idle.cpu, 3),
        packets_per_s: round(busy.packetsPerS, 0),
        kb_per_s: round(busy.kbPerS, 0),
        heartbeats_per_s_busy: round(busy.heartbeatsPerS, 2),
        heartbeats_per_s_idle: round(idle.heartbeatsPerS, 2),
      },
    };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "window-s": { type: "string" },
      mode: { type: "string" },
      profile: { type: "string" },
    },
  });
  const mode = values.mode;
  if (mode !== undefined && mode !== "ltp" && mode !== "quote" && mode !== "full") {
    throw new TypeError(`Failed to read --mode: "${mode}" is not ltp, quote or full`);
  }
  const result = await benchSimulator({
    ...(values["window-s"] === undefined ? {} : { windowMs: Number(values["window-s"]) * 1000 }),
    ...(mode === undefined ? {} : { mode }),
    ...(values.profile === undefined ? {} : { profileDir: values.profile }),
    log: (line) => console.error(line),
  });
  console.log(JSON.stringify(result, null, 2));
}
