/**
 * Benchmark: what the daemon costs when nothing happens. It runs as its own process, Live
 * on three instruments (the default NIFTY 50, NIFTY BANK, SENSEX) in full mode, with the
 * simulator ticking and sending heartbeats once a second as Kite does, and no client
 * connected. Measured over a window: CPU as % of one core, the sum of its threads'
 * `/proc/<pid>/task/<tid>/schedstat` (ns; `/proc/<pid>/stat`'s 10 ms steps, which count
 * exited threads too, in the details), and RSS at the end (`/proc/<pid>/status`).
 *
 * Measured from a minute after Live: for its first ~40 s the daemon's V8 still compiles its
 * hot functions and collects the start's garbage on worker threads (per-thread schedstat:
 * ~2 ms of CPU a second then, ~0.5 ms once settled), which is start-up, not idling. The bare
 * client waits as long before its window.
 *
 * Baseline, in the same window: a bare client process holding one WebSocket to the same
 * simulator on the same instruments and decoding every message (its CPU read the same way,
 * from its threads' schedstat; its own getrusage in the details; its RSS from
 * `Deno.memoryUsage()`): what a Deno process that keeps a Kite feed open costs at the least.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=deno,cat,ls \
 *   scripts/bench_idle.ts [--window-s N] [--warmup-s N]
 * ```
 *
 * @module
 */
import { DEFAULT_INSTRUMENTS } from "../src/kite/instruments.ts";
import {
  cpuPercent,
  KITE,
  procSample,
  startBenchSimulator,
  startClientFleet,
  startDaemonChild,
  threadCpuNs,
  untilLive,
} from "./_bench_process.ts";
import { type BenchResult, delay, epochMs, figure, round } from "./_bench_stats.ts";
import { runBench } from "./_bench_cli.ts";

/** Options of {@linkcode benchIdle}. */
export interface IdleOptions {
  /** Where to write a V8 CPU profile of the daemon (`--cpu-prof-dir`); none by default. */
  readonly profileDir?: string;
  /** Measured time; default 60 s. */
  readonly windowMs?: number;
  /** Time after Live before measuring (V8's compiles, the start's GCs); default 60 s. */
  readonly warmupMs?: number;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

const MB = 1024 * 1024;

/** Runs the daemon and a bare client side by side, idle, and reports CPU and RSS of each. */
export async function benchIdle(options: IdleOptions = {}): Promise<BenchResult> {
  const windowMs = options.windowMs ?? 60_000;
  const warmupMs = options.warmupMs ?? 60_000;
  const log = options.log ?? (() => {});
  await using sim = await startBenchSimulator({ tickMs: 1000 });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_" });
  try {
    log(
      `idle: daemon and a bare client, ${DEFAULT_INSTRUMENTS.length} instruments, ${
        windowMs / 1000
      } s`,
    );
    await using daemon = await startDaemonChild(sim, {
      dir,
      accessToken: sim.issueAccessToken(),
      instruments: DEFAULT_INSTRUMENTS,
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    });
    await untilLive(daemon.url);
    const url = `${sim.tickerUrl}?api_key=${KITE.apiKey}&access_token=${sim.issueAccessToken()}`;
    await using bare = await startClientFleet("ws", { url, tokens: DEFAULT_INSTRUMENTS });
    await delay(warmupMs);
    const before = await procSample(daemon.pid);
    const threadsBefore = await Promise.all([threadCpuNs(daemon.pid), threadCpuNs(bare.pid)]);
    const started = epochMs();
    await bare.start();
    await delay(windowMs);
    const after = await procSample(daemon.pid);
    const threadsAfter = await Promise.all([threadCpuNs(daemon.pid), threadCpuNs(bare.pid)]);
    const elapsed = epochMs() - started;
    const client = await bare.finish();
    // ns over ms, as % of one core.
    const [cpu, clientCpu] = threadsAfter.map((ns, i) => (ns - threadsBefore[i]!) / elapsed / 1e4);
    return {
      figures: [
        figure({
          key: "idle.cpu_percent",
          benchmark: "idle",
          name: `daemon CPU, Live on ${DEFAULT_INSTRUMENTS.length} instruments, no clients`,
          unit: "% of a core",
          value: round(cpu!, 3),
          baseline: { name: "bare client on the same feed", value: round(clientCpu!, 3) },
        }, { text: "≤ 1.2 × baseline", met: (value, base) => value <= 1.2 * base }),
        figure({
          key: "idle.rss_mb",
          benchmark: "idle",
          name: "daemon RSS at the end",
          unit: "MB",
          value: round(after.rssBytes / MB, 1),
          baseline: {
            name: "bare client on the same feed",
            value: round(client.rss_bytes / MB, 1),
          },
        }, { text: "≤ 60 MB", met: (value) => value <= 60 }),
      ],
      details: {
        window_ms: round(elapsed),
        warmup_ms: warmupMs,
        instruments: DEFAULT_INSTRUMENTS.length,
        tick_ms: 1000,
        heartbeat_ms: 1000,
        daemon_cpu_s: round(after.cpuSeconds - before.cpuSeconds, 2),
        daemon_cpu_percent_proc_stat: round(cpuPercent(before, after, elapsed), 3),
        client_cpu_percent_getrusage: round(client.cpu_percent, 3),
        daemon_rss_peak_mb: round(after.rssPeakBytes / MB, 1),
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  await runBench(benchIdle, [
    { flag: "window-s", option: "windowMs", scale: 1000 },
    { flag: "warmup-s", option: "warmupMs", scale: 1000 },
    { flag: "profile", option: "profileDir", text: true },
  ]);
}
