/**
 * Benchmark: what the Kite-compatible endpoint adds. `clients` WebSocket clients, each in its
 * own process, subscribe `instruments` instruments in full mode, which the simulator moves at
 * 1 Hz, straight from the simulator (the baseline); at the same time as many clients get the
 * same instruments through kitekeeper's `/ws` (the daemon as its own process, on the same
 * simulator). Both groups see the same tick rounds on the same loaded machine. Measured over
 * a window:
 * - latency per tick from the simulator's tick round to a client's receive, both ways, and
 *   what kitekeeper adds (p50, p99; goal: p99 added ≤ 2 ms);
 * - kitekeeper's CPU (`/proc/<pid>/stat`) over the window, beside a bare relay's (goal:
 *   ≤ 1.5×): `scripts/_bench_relay.ts` passing every message of one upstream socket on to
 *   as many WebSocket clients, untouched, measured the same way in a second phase (its own
 *   clients beside as many direct ones again), so its added latency is there too;
 * - kitekeeper's RSS at the end of the window.
 *
 * The clients only count a message's packets from its header (`--read header`): twenty
 * processes decoding 3000 full packets each at the same instant queue for 2 cores, and the
 * queueing, not kitekeeper, would be measured. Each client process's CPU is in the details.
 *
 * Send times are taken as in `bench_fanout.ts` (`roundClock`): the simulator runs in this
 * process and notes when each tick round starts. The simulator takes as many sockets as the
 * direct clients need (Kite allows 3 an api_key: a real program could not even do this), so
 * both phases run the same number of client processes on the same machine.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=deno,cat \
 *   scripts/bench_endpoint.ts [--instruments N] [--clients N] [--window-s N]
 * ```
 *
 * @module
 */
import { MAX_SHARDS } from "../src/lifecycle/machine.ts";
import type { ClientReport } from "./_bench_client.ts";
import {
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
import { type BenchResult, delay, epochMs, figure, round } from "./_bench_stats.ts";
import { latencies, roundClock, ticksPerSecond } from "./bench_fanout.ts";
import { runBench } from "./_bench_cli.ts";

/** Options of {@linkcode benchEndpoint}. */
export interface EndpointBenchOptions {
  /** Where to write a V8 CPU profile of the daemon (`--cpu-prof-dir`); none by default. */
  readonly profileDir?: string;
  /** Instruments each client subscribes (the same for all); default 3000. */
  readonly instruments?: number;
  /** Client processes; default 10. */
  readonly clients?: number;
  /** Measured time per phase; default 20 s. */
  readonly windowMs?: number;
  /** Time after every client has a tick, before measuring; default 3 s. */
  readonly warmupMs?: number;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

const MB = 1024 * 1024;

/**
 * Runs `clients` fleets (one process each) on each of `urls` at once, through one warm-up and
 * one window, and samples process `pid` over the window, or takes the CPU `selfReport` gives.
 */
async function phase(
  urls: readonly string[],
  options: {
    tokens: readonly number[];
    clients: number;
    warmupMs: number;
    windowMs: number;
    pid: number;
    selfReport?: { start(): Promise<void>; cpuPercent(): Promise<number> };
  },
): Promise<{ reports: ClientReport[][]; cpuPercent: number; rssBytes: number }> {
  const fleets = await Promise.all(urls.map((url) =>
    Promise.all(
      Array.from(
        { length: options.clients },
        () => startClientFleet("ws", { url, tokens: options.tokens, read: "header" }),
      ),
    )
  ));
  const all = fleets.flat();
  try {
    await delay(options.warmupMs);
    const before = await procSample(options.pid);
    const started = epochMs();
    await Promise.all([...all.map((fleet) => fleet.start()), options.selfReport?.start()]);
    await delay(options.windowMs);
    const after = await procSample(options.pid);
    const elapsed = epochMs() - started;
    const reported = await options.selfReport?.cpuPercent();
    const reports = await Promise.all(
      fleets.map((group) => Promise.all(group.map((fleet) => fleet.finish()))),
    );
    return {
      reports,
      cpuPercent: reported ?? cpuPercent(before, after, elapsed),
      rssBytes: after.rssBytes,
    };
  } finally {
    await Promise.all(all.map((fleet) => fleet.close()));
  }
}

function merged(reports: readonly ClientReport[]): ClientReport {
  const first = reports[0];
  if (first === undefined) throw new Error("Failed to measure: no client reported");
  return {
    ...first,
    arrivals: reports.flatMap((report) => report.arrivals).sort((a, b) => a[0] - b[0]),
    connections: reports.length,
    ended_early: reports.reduce((sum, report) => sum + report.ended_early, 0),
    cpu_percent: reports.reduce((sum, report) => sum + report.cpu_percent, 0) / reports.length,
  };
}

/** Each client process's CPU over the window, % of one core. */
function perProcessCpu(reports: readonly ClientReport[]): number[] {
  return reports.map((report) => round(report.cpu_percent));
}

/**
 * Streams to `clients` clients straight from the simulator and, at the same time, to as many
 * through kitekeeper, and compares them.
 */
export async function benchEndpoint(options: EndpointBenchOptions = {}): Promise<BenchResult> {
  const instruments = options.instruments ?? 3000;
  const clients = options.clients ?? 10;
  const windowMs = options.windowMs ?? 20_000;
  const warmupMs = options.warmupMs ?? 3000;
  const log = options.log ?? (() => {});
  const tokens = equityTokens(instruments);
  const { clock, rounds } = roundClock();
  await using sim = await startBenchSimulator({
    tickMs: 1000,
    clock,
    maxSockets: clients + MAX_SHARDS,
  });
  const accessToken = sim.issueAccessToken();
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_" });
  let direct: ClientReport[];
  let served: ClientReport[];
  let daemonCpu: number;
  let daemonRss: number;
  const credentials = `api_key=${KITE.apiKey}&access_token=${accessToken}`;
  const tickerUrl = `${sim.tickerUrl}?${credentials}`;
  try {
    await using daemon = await startDaemonChild(sim, {
      dir,
      accessToken,
      instruments: tokens,
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    });
    await untilLive(daemon.url);
    log(
      `endpoint: ${clients} clients straight to the simulator and ${clients} through ` +
        `kitekeeper's /ws, ${instruments} full, ${windowMs / 1000} s`,
    );
    const measured = await phase([
      tickerUrl,
      `${daemon.url.replace("http", "ws")}/ws?${credentials}`,
    ], { tokens, clients, warmupMs, windowMs, pid: daemon.pid });
    [direct = [], served = []] = measured.reports;
    daemonCpu = measured.cpuPercent;
    daemonRss = measured.rssBytes;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  log(
    `endpoint: ${clients} clients straight to the simulator and ${clients} through a bare ` +
      `relay's /ws, ${instruments} full, ${windowMs / 1000} s`,
  );
  let relayDirect: ClientReport[];
  let relayed: ClientReport[];
  let relayCpu: number;
  {
    await using relay = await startBareRelay(tickerUrl, tokens);
    const measured = await phase([tickerUrl, `${relay.url.replace("http", "ws")}/ws`], {
      tokens,
      clients,
      warmupMs,
      windowMs,
      pid: relay.pid,
      selfReport: relay,
    });
    [relayDirect = [], relayed = []] = measured.reports;
    relayCpu = measured.cpuPercent;
  }
  if (rounds.length === 0) throw new Error("Failed to time the simulator's tick rounds");

  const base = merged(direct);
  const through = merged(served);
  const floor = latencies(base, rounds);
  const added = latencies(through, rounds);
  const relayFloor = latencies(merged(relayDirect), rounds);
  const bare = latencies(merged(relayed), rounds);
  const deliveredPerS = ticksPerSecond(through) * through.connections;
  const directPerS = ticksPerSecond(base);
  const cpuPer10k = deliveredPerS === 0 ? 0 : daemonCpu / (deliveredPerS / 10_000);
  const directPer10k = directPerS === 0 ? 0 : base.cpu_percent / (directPerS / 10_000);
  const what = `${clients} clients × ${instruments} full 1 Hz`;
  return {
    figures: [
      figure({
        key: "endpoint.latency.p50_ms",
        benchmark: "endpoint",
        name: `simulator → client through /ws, p50 (${what})`,
        unit: "ms",
        value: round(added.p50),
        baseline: { name: "straight to the simulator, p50", value: round(floor.p50) },
      }),
      figure({
        key: "endpoint.latency.p99_ms",
        benchmark: "endpoint",
        name: `simulator → client through /ws, p99 (${what})`,
        unit: "ms",
        value: round(added.p99),
        baseline: { name: "straight to the simulator, p99", value: round(floor.p99) },
      }, { text: "added (value − baseline) ≤ 2 ms", met: (value, b) => value - b <= 2 }),
      figure({
        key: "endpoint.relay.cpu_percent",
        benchmark: "endpoint",
        name: `kitekeeper CPU serving ${what}`,
        unit: "% of a core",
        value: round(daemonCpu),
        baseline: { name: "a bare relay of the same bytes", value: round(relayCpu) },
      }, { text: "≤ 1.5× the bare relay", met: (value, b) => value <= 1.5 * b }),
      figure({
        key: "endpoint.relay.p99_ms",
        benchmark: "endpoint",
        name: `simulator → client through a bare relay's /ws, p99 (${what})`,
        unit: "ms",
        value: round(bare.p99),
        baseline: {
          name: "straight to the simulator beside it, p99",
          value: round(relayFloor.p99),
        },
      }),
      figure({
        key: "endpoint.cpu_per_10k_ticks_s",
        benchmark: "endpoint",
        name: "kitekeeper CPU per 10 000 ticks/s delivered",
        unit: "% of a core",
        value: round(cpuPer10k),
        baseline: { name: "a direct client counting 10 000 ticks/s", value: round(directPer10k) },
      }),
      figure({
        key: "endpoint.rss_mb",
        benchmark: "endpoint",
        name: `kitekeeper RSS, serving ${what}`,
        unit: "MB",
        value: round(daemonRss / MB, 1),
        baseline: { name: "a direct client process", value: round(base.rss_bytes / MB, 1) },
      }),
    ],
    details: {
      instruments,
      clients,
      window_ms: windowMs,
      warmup_ms: warmupMs,
      latency_ms: {
        through_endpoint: added,
        direct: floor,
        added_p50: round(added.p50 - floor.p50),
        added_p99: round(added.p99 - floor.p99),
        through_bare_relay: bare,
        direct_beside_relay: relayFloor,
        relay_added_p50: round(bare.p50 - relayFloor.p50),
        relay_added_p99: round(bare.p99 - relayFloor.p99),
        per_client_p99: {
          through_endpoint: served.map((report) => round(latencies(report, rounds).p99)),
          direct: direct.map((report) => round(latencies(report, rounds).p99)),
        },
      },
      ticks_per_s: {
        delivered_through_endpoint: round(deliveredPerS),
        per_direct_client: round(directPerS),
      },
      cpu_percent: {
        daemon: round(daemonCpu),
        bare_relay: round(relayCpu),
        direct_client: round(base.cpu_percent),
        client_processes_direct: perProcessCpu(direct),
        client_processes_through: perProcessCpu(served),
        client_processes_through_relay: perProcessCpu(relayed),
      },
      clients_ended_early: { direct: base.ended_early, through: through.ended_early },
    },
  };
}

if (import.meta.main) {
  await runBench(benchEndpoint, [
    { flag: "instruments", option: "instruments" },
    { flag: "clients", option: "clients" },
    { flag: "window-s", option: "windowMs", scale: 1000 },
    { flag: "profile", option: "profileDir", text: true },
  ]);
}
