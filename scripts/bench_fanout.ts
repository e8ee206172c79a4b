/**
 * Benchmark: what fanning a big feed out costs. The simulator streams `instruments` NSE
 * equities in full mode at 1 Hz (3000 is Kite's limit for one socket) to the daemon, run as
 * its own process, which serves them to `clients` `/stream` subscribers (processes of their
 * own, `processes` of them, so the readers idle). Measured over a window:
 * - the daemon's CPU, as % of one core, from `/proc/<pid>/stat`;
 * - latency per tick from the simulator's send to a client's receive.
 *
 * Send and receive are read on the epoch clock all processes on the host share
 * (`performance.timeOrigin + performance.now()`). The send time of a round of ticks is when
 * the simulator's tick timer fired: the simulator runs in this process with a clock that
 * notes the first time each round asks it for the time (within microseconds of the timer,
 * before the round's step and encode). A read that carried ticks counts once per tick, at
 * the latest round that started before it.
 *
 * Baselines, in the same run:
 * - the floor: in each phase, one client subscribed straight to the simulator's WebSocket
 *   at the same time, on the same rounds, decoding every message (its CPU from its own
 *   getrusage, at microsecond resolution). It connects before the server, so the simulator
 *   sends each round to it first and to the server after: what is added is not understated
 *   (a floor measured in a phase of its own differed from run to run by more than what was
 *   measured);
 * - a bare relay (`scripts/_bench_relay.ts`): one socket to the simulator and a bare
 *   `Deno.serve` sending the same number of same-size tick frames to as many SSE clients,
 *   with no decoding and no state: what moving the bytes costs on this machine (its CPU
 *   from its own getrusage too); then the same relay on the daemon's own listener
 *   (`listenHttp`, on `Deno.serveHttp`), in the details: what that listener adds.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=deno,cat \
 *   scripts/bench_fanout.ts [--instruments N] [--clients N] [--processes N] [--window-s N] \
 *   [--profile DIR] [--semi-space-mb N]
 * ```
 *
 * @module
 */
import type { Simulator } from "../src/simulator/simulator.ts";
import type { ClientReport } from "./_bench_client.ts";
import {
  type ClientFleet,
  cpuPercent,
  equityTokens,
  KITE,
  procSample,
  startBareRelay,
  startBenchSimulator,
  startClientFleet,
  startDaemonChild,
  untilLive,
} from "./_bench_process.ts";
import {
  type BenchResult,
  delay,
  epochMs,
  figure,
  round,
  summarizeWeighted,
  type Summary,
} from "./_bench_stats.ts";
import { runBench } from "./_bench_cli.ts";

/** Options of {@linkcode benchFanout}. */
export interface FanoutOptions {
  /** Instruments streamed; default 3000. */
  readonly instruments?: number;
  /** `/stream` subscribers; default 20. */
  readonly clients?: number;
  /**
   * Processes the subscribers are spread over; default 4. One process reading every stream
   * was itself the bottleneck (a busy client adds its own queueing to the latency measured),
   * so the fleet is sized to idle: its CPU per process is in the details.
   */
  readonly processes?: number;
  /** Measured time per phase; default 30 s. */
  readonly windowMs?: number;
  /** Time after every client has a tick, before measuring; default 3 s. */
  readonly warmupMs?: number;
  /** Where to write a V8 CPU profile of the daemon; none by default. */
  readonly profileDir?: string;
  /**
   * The daemon's V8 `--max-semi-space-size` (MB) in place of the shipped 2, to weigh the
   * young generation's size against latency (a 3000-instrument round allocates a few MB);
   * the shipped settings by default.
   */
  readonly semiSpaceMb?: number;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

const TICK_MS = 1000;
const MB = 1024 * 1024;

/**
 * A clock for the simulator that notes the start of each tick round: a call to `now()` more
 * than half a tick period after the previous one.
 */
export function roundClock(): { clock: { now(): number }; rounds: number[] } {
  const rounds: number[] = [];
  let last = Number.NEGATIVE_INFINITY;
  return {
    rounds,
    clock: {
      now() {
        const at = epochMs();
        if (at - last > TICK_MS / 2) rounds.push(at);
        last = at;
        return Date.now();
      },
    },
  };
}

/** Latency of each received tick from the start of the round it belongs to. */
export function latencies(report: ClientReport, rounds: readonly number[]): Summary {
  const samples: { value: number; weight: number }[] = [];
  let r = 0;
  for (const [at, ticks] of report.arrivals) {
    while (r + 1 < rounds.length && (rounds[r + 1] as number) <= at) r++;
    const start = rounds[r];
    if (start === undefined || start > at) continue; // before any round we saw
    samples.push({ value: at - start, weight: ticks });
  }
  return summarizeWeighted(samples);
}

/** Ticks a second each of the report's connections received over its window. */
export function ticksPerSecond(report: ClientReport): number {
  const ticks = report.arrivals.reduce((sum, [, count]) => sum + count, 0);
  return ticks / report.connections / (report.window_ms / 1000);
}

/** Sizes of `parts` groups, `total` spread over `parts` as evenly as it goes. */
function spread(total: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, total));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

/** One report of several client processes: arrivals merged in time order, counts summed. */
export function mergeReports(reports: readonly ClientReport[]): ClientReport & {
  readonly cpu_percent_per_process: readonly number[];
} {
  return {
    arrivals: reports.flatMap((r) => r.arrivals).sort((a, b) => a[0] - b[0]),
    window_ms: Math.max(...reports.map((r) => r.window_ms)),
    cpu_percent: reports.reduce((sum, r) => sum + r.cpu_percent, 0),
    cpu_percent_per_process: reports.map((r) => round(r.cpu_percent)),
    rss_bytes: reports.reduce((sum, r) => sum + r.rss_bytes, 0),
    connections: reports.reduce((sum, r) => sum + r.connections, 0),
    ended_early: reports.reduce((sum, r) => sum + r.ended_early, 0),
  };
}

/** `clients` SSE clients of `url`, spread over `processes` processes, started and read as one. */
async function startSseFleets(
  url: string,
  options: { clients: number; processes: number },
) {
  const fleets: ClientFleet[] = [];
  try {
    for (const clients of spread(options.clients, options.processes)) {
      fleets.push(await startClientFleet("sse", { url, clients }));
    }
  } catch (error: unknown) {
    await Promise.all(fleets.map((fleet) => fleet.close()));
    throw error;
  }
  const close = async () => {
    await Promise.all(fleets.map((fleet) => fleet.close()));
  };
  return {
    start: async () => {
      await Promise.all(fleets.map((fleet) => fleet.start()));
    },
    finish: async () => mergeReports(await Promise.all(fleets.map((fleet) => fleet.finish()))),
    [Symbol.asyncDispose]: close,
  };
}

/** What one phase with a server between the simulator and the SSE clients measured. */
interface ServedPhase {
  readonly clients: ReturnType<typeof mergeReports>;
  /** The direct client beside them, on the same rounds. */
  readonly direct: ClientReport;
  /** The server's CPU over the window, % of one core, and its RSS at the end. */
  readonly cpuPercent: number;
  readonly rssBytes: number;
  readonly ticksSentPerS: number;
}

/**
 * Runs `clients` SSE clients against `url` for a warm-up and a window, beside the `direct`
 * client, sampling `pid` from `/proc`, or taking the CPU `selfReport` gives when there is one.
 */
async function servedPhase(
  sim: Simulator,
  url: string,
  options: {
    pid: number;
    clients: number;
    processes: number;
    warmupMs: number;
    windowMs: number;
    direct: ClientFleet;
    selfReport?: { start(): Promise<void>; cpuPercent(): Promise<number> };
  },
): Promise<ServedPhase> {
  await using fleet = await startSseFleets(url, options);
  await delay(options.warmupMs);
  const before = await procSample(options.pid);
  const sentBefore = sim.stats().ticks_sent;
  const started = epochMs();
  await Promise.all([fleet.start(), options.direct.start(), options.selfReport?.start()]);
  await delay(options.windowMs);
  const after = await procSample(options.pid);
  const elapsed = epochMs() - started;
  const sent = sim.stats().ticks_sent - sentBefore;
  const reported = await options.selfReport?.cpuPercent();
  return {
    clients: await fleet.finish(),
    direct: await options.direct.finish(),
    cpuPercent: reported ?? cpuPercent(before, after, elapsed),
    rssBytes: after.rssBytes,
    ticksSentPerS: sent / (elapsed / 1000),
  };
}

/**
 * Streams `instruments` at 1 Hz through a bare relay to `clients` SSE subscribers, then
 * through the daemon to as many, each beside one direct client (the floor), and reports CPU
 * and latency of each.
 */
export async function benchFanout(options: FanoutOptions = {}): Promise<BenchResult> {
  const instruments = options.instruments ?? 3000;
  const clients = options.clients ?? 20;
  const processes = options.processes ?? 4;
  const windowMs = options.windowMs ?? 30_000;
  const warmupMs = options.warmupMs ?? 3000;
  const log = options.log ?? (() => {});
  const tokens = equityTokens(instruments);
  const { clock, rounds } = roundClock();
  await using sim = await startBenchSimulator({
    tickMs: TICK_MS,
    clock,
  });
  const tickerUrl = () =>
    `${sim.tickerUrl}?api_key=${KITE.apiKey}&access_token=${sim.issueAccessToken()}`;
  const seconds = `${windowMs / 1000} s`;

  // The floor of each phase, connected first: see the module's comment.
  const startDirect = () => startClientFleet("ws", { url: tickerUrl(), tokens });

  async function relayPhase(listener: "serve" | "daemon"): Promise<ServedPhase> {
    log(
      `fan-out: bare relay (${listener === "serve" ? "Deno.serve" : "the daemon's listener"}) → ` +
        `${clients} /stream clients in ${processes} processes, beside 1 direct client, ` +
        `${instruments} instruments, ${seconds}`,
    );
    await using direct = await startDirect();
    await using relay = await startBareRelay(tickerUrl(), tokens, { listener });
    return await servedPhase(sim, `${relay.url}/stream`, {
      pid: relay.pid,
      clients,
      processes,
      warmupMs,
      windowMs,
      direct,
      selfReport: relay,
    });
  }
  const relayed = await relayPhase("serve");
  // The same relay on the daemon's own listener (Deno.serveHttp): what the listener costs.
  const relayedOnListener = await relayPhase("daemon");

  log(
    `fan-out: daemon → ${clients} /stream clients in ${processes} processes, beside 1 direct ` +
      `client, ${seconds}`,
  );
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_" });
  let served: ServedPhase;
  try {
    await using direct = await startDirect();
    await using daemon = await startDaemonChild(sim, {
      dir,
      accessToken: sim.issueAccessToken(),
      instruments: tokens,
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
      ...(options.semiSpaceMb === undefined ? {} : { semiSpaceMb: options.semiSpaceMb }),
    });
    await untilLive(daemon.url);
    served = await servedPhase(sim, `${daemon.url}/stream`, {
      pid: daemon.pid,
      clients,
      processes,
      warmupMs,
      windowMs,
      direct,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  if (rounds.length === 0) throw new Error("Failed to time the simulator's tick rounds");

  const direct = served.direct;
  const floor = latencies(direct, rounds);
  const relayFloor = latencies(relayed.direct, rounds);
  const onListener = latencies(relayedOnListener.clients, rounds);
  const onListenerFloor = latencies(relayedOnListener.direct, rounds);
  const bare = latencies(relayed.clients, rounds);
  const through = latencies(served.clients, rounds);
  const sse = `${clients} SSE clients`;
  return {
    figures: [
      figure({
        key: "fanout.cpu_percent",
        benchmark: "fan-out",
        name: `daemon CPU, ${instruments} instruments full 1 Hz → ${sse}`,
        unit: "% of a core",
        value: round(served.cpuPercent),
        baseline: { name: "one direct client decoding", value: round(direct.cpu_percent) },
      }, { text: "≤ 10 %", met: (value) => value <= 10 }),
      figure({
        key: "fanout.latency.p50_ms",
        benchmark: "fan-out",
        name: "simulator send → SSE client receive, p50",
        unit: "ms",
        value: round(through.p50),
        baseline: { name: "→ direct client receive, p50", value: round(floor.p50) },
      }),
      figure({
        key: "fanout.latency.p99_ms",
        benchmark: "fan-out",
        name: "simulator send → SSE client receive, p99",
        unit: "ms",
        value: round(through.p99),
        baseline: { name: "→ direct client receive, p99", value: round(floor.p99) },
      }, { text: "added (value − baseline) ≤ 5 ms", met: (value, base) => value - base <= 5 }),
      figure({
        key: "fanout.relay.cpu_percent",
        benchmark: "fan-out",
        name: `daemon CPU, same feed → ${sse}`,
        unit: "% of a core",
        value: round(served.cpuPercent),
        baseline: { name: "bare relay of the same bytes", value: round(relayed.cpuPercent) },
      }),
      figure({
        key: "fanout.relay.p50_ms",
        benchmark: "fan-out",
        name: "simulator send → SSE client receive, p50",
        unit: "ms",
        value: round(through.p50),
        baseline: { name: "through the bare relay, p50", value: round(bare.p50) },
      }),
      figure({
        key: "fanout.relay.p99_ms",
        benchmark: "fan-out",
        name: "simulator send → SSE client receive, p99",
        unit: "ms",
        value: round(through.p99),
        baseline: { name: "through the bare relay, p99", value: round(bare.p99) },
      }),
      figure({
        key: "fanout.rss_mb",
        benchmark: "fan-out",
        name: `daemon RSS, ${instruments} instruments → ${sse}`,
        unit: "MB",
        value: round(served.rssBytes / MB, 1),
        baseline: { name: "bare relay", value: round(relayed.rssBytes / MB, 1) },
      }),
    ],
    details: {
      instruments,
      clients,
      client_processes: processes,
      window_ms: windowMs,
      daemon_semi_space_mb: options.semiSpaceMb ?? "shipped",
      warmup_ms: warmupMs,
      tick_ms: TICK_MS,
      latency_ms: {
        through_daemon: through,
        through_bare_relay: bare,
        direct: floor,
        added_p50: round(through.p50 - floor.p50),
        added_p99: round(through.p99 - floor.p99),
        direct_beside_relay: relayFloor,
        relay_added_p50: round(bare.p50 - relayFloor.p50),
        relay_added_p99: round(bare.p99 - relayFloor.p99),
        through_bare_relay_on_daemon_listener: onListener,
        direct_beside_relay_on_daemon_listener: onListenerFloor,
        relay_on_daemon_listener_added_p50: round(onListener.p50 - onListenerFloor.p50),
        relay_on_daemon_listener_added_p99: round(onListener.p99 - onListenerFloor.p99),
      },
      ticks_per_s: {
        sent_to_daemon: round(served.ticksSentPerS),
        per_sse_client: round(ticksPerSecond(served.clients)),
        sent_to_relay: round(relayed.ticksSentPerS),
        per_relay_client: round(ticksPerSecond(relayed.clients)),
        direct_client: round(ticksPerSecond(direct)),
      },
      sse_clients_ended_early: served.clients.ended_early + relayed.clients.ended_early +
        relayedOnListener.clients.ended_early,
      cpu_percent: {
        daemon: round(served.cpuPercent),
        bare_relay: round(relayed.cpuPercent),
        bare_relay_on_daemon_listener: round(relayedOnListener.cpuPercent),
        direct_client: round(direct.cpu_percent),
        sse_client_processes_with_daemon: served.clients.cpu_percent_per_process,
        sse_client_processes_with_relay: relayed.clients.cpu_percent_per_process,
      },
    },
  };
}

if (import.meta.main) {
  await runBench(benchFanout, [
    { flag: "instruments", option: "instruments" },
    { flag: "processes", option: "processes" },
    { flag: "clients", option: "clients" },
    { flag: "window-s", option: "windowMs", scale: 1000 },
    { flag: "profile", option: "profileDir", text: true },
    { flag: "semi-space-mb", option: "semiSpaceMb" },
  ]);
}
