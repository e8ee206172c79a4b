/**
 * Benchmark: two kitekeepers with one Redis. Three measurements in one run, each beside a
 * baseline from the same run:
 *
 * - **Takeover**: a holder and a standby (`KITEKEEPER_LEASE_MS`, default 1000), the holder
 *   killed with SIGKILL, the time until the standby's `/status` says `holder` and 200 (Live),
 *   polled every 10 ms; a fresh standby is started for the next run. p50 and p99 over
 *   `runs` (default 20), beside the lease time (the goal: within it plus one second).
 * - **Bus throughput**: one holder on `instruments` (default 3000) in full mode, the
 *   simulator ticking each once a second; ticks published to the stream per second beside the
 *   ticks received from upstream per second, dropped ticks counted, and the latency from the
 *   holder receiving a tick to a reader here getting it with `XREAD BLOCK` (p50, p99).
 * - **Holder CPU**: the same daemon's CPU (% of a core, `/proc`) with the bus, beside the
 *   same daemon on the same feed without `KITEKEEPER_REDIS_URL`.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *   --allow-run=deno,cat,/usr/bin/redis-server scripts/bench_cluster.ts
 * ```
 *
 * @module
 */
import { clusterKeys } from "../src/cluster/cluster_keys.ts";
import { connectRedis } from "../src/cluster/redis_link.ts";
import type { Simulator } from "../src/simulator/simulator.ts";
import { type RedisServer, startRedisServer } from "../src/testing/redis_server.ts";
import {
  cpuPercent,
  type DaemonChild,
  equityTokens,
  procSample,
  startBenchSimulator,
  startDaemonChild,
  untilLive,
} from "./_bench_process.ts";
import { type BenchResult, delay, epochMs, figure, round, summarize } from "./_bench_stats.ts";

/** Options of {@linkcode benchCluster}. */
export interface ClusterBenchOptions {
  /** Takeovers measured; default 20. */
  readonly runs?: number;
  /** The lease time; default 1000 ms. */
  readonly leaseMs?: number;
  /** Instruments for the bus and CPU windows; default 3000. */
  readonly instruments?: number;
  /** Each measured window; default 20 s. */
  readonly windowMs?: number;
  /** Time after Live before measuring; default 5 s. */
  readonly warmupMs?: number;
  /** Where to write a V8 CPU profile of the holder with the bus; none by default. */
  readonly profileDir?: string;
  readonly log?: (line: string) => void;
}

const CLUSTER = "bench";

function clusterLines(redis: RedisServer, leaseMs: number): string[] {
  return [
    `KITEKEEPER_REDIS_URL=${redis.url}`,
    `KITEKEEPER_CLUSTER=${CLUSTER}`,
    `KITEKEEPER_LEASE_MS=${leaseMs}`,
  ];
}

async function statusOf(url: string): Promise<{ code: number; role?: string } | null> {
  try {
    const response = await fetch(`${url}/status`);
    const body = await response.json() as { role?: string };
    return { code: response.status, ...(body.role === undefined ? {} : { role: body.role }) };
  } catch {
    return null;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Failed to see ${what} within ${timeoutMs} ms`);
    await delay(10);
  }
}

async function takeovers(
  sim: Simulator,
  redis: RedisServer,
  options: { runs: number; leaseMs: number; dir: string; log: (line: string) => void },
): Promise<number[]> {
  const start = async (n: number) => {
    const dir = await Deno.makeTempDir({ dir: options.dir, prefix: `node${n}_` });
    return startDaemonChild(sim, {
      dir,
      accessToken: token,
      instruments: equityTokens(3),
      extraEnv: clusterLines(redis, options.leaseMs),
    });
  };
  const token = sim.issueAccessToken();
  let holder = await start(0);
  await until("a holder", async () => (await statusOf(holder.url))?.role === "holder", 20_000);
  await untilLive(holder.url);
  let standby = await start(1);
  const samples: number[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      await until("a standby that is 200", async () => {
        const status = await statusOf(standby.url);
        return status?.role === "standby" && status.code === 200;
      }, 20_000);
      const killed = epochMs();
      holder.child.kill("SIGKILL");
      await until("the takeover", async () => {
        const status = await statusOf(standby.url);
        return status?.role === "holder" && status.code === 200;
      }, options.leaseMs + 10_000);
      samples.push(epochMs() - killed);
      await holder.close();
      options.log(`cluster: takeover ${run + 1}/${options.runs}: ${round(samples.at(-1)!, 0)} ms`);
      holder = standby;
      standby = await start(run + 2);
    }
  } finally {
    await standby.close();
    await holder.close();
  }
  return samples;
}

interface Window {
  readonly cpu: number;
  readonly upstreamPerS: number;
  readonly busPerS: number;
  readonly dropped: number;
  readonly failed: number;
}

async function feedWindow(
  daemon: DaemonChild,
  options: { windowMs: number; warmupMs: number },
): Promise<Window> {
  await untilLive(daemon.url);
  await delay(options.warmupMs);
  const read = async () => {
    const body = await (await fetch(`${daemon.url}/status`)).json() as {
      feed: { ticks_total: number };
      cluster?: { bus: { published: number; dropped: number; failed: number } };
    };
    return {
      ticks: body.feed.ticks_total,
      bus: body.cluster?.bus,
      proc: await procSample(daemon.pid),
    };
  };
  const before = await read();
  const started = epochMs();
  await delay(options.windowMs);
  const after = await read();
  const ms = epochMs() - started;
  return {
    cpu: cpuPercent(before.proc, after.proc, ms),
    upstreamPerS: (after.ticks - before.ticks) / (ms / 1000),
    busPerS: ((after.bus?.published ?? 0) - (before.bus?.published ?? 0)) / (ms / 1000),
    dropped: (after.bus?.dropped ?? 0) - (before.bus?.dropped ?? 0),
    failed: (after.bus?.failed ?? 0) - (before.bus?.failed ?? 0),
  };
}

/** Reads the stream from here while `body` runs; returns holder-to-reader latencies (ms). */
async function readLatencies(redis: RedisServer, body: () => Promise<void>): Promise<number[]> {
  const link = await connectRedis(redis.url);
  const ticks = clusterKeys(CLUSTER).ticks;
  const latencies: number[] = [];
  let reading = true;
  const loop = (async () => {
    let last = "$";
    while (reading) {
      const reply = await link.send([
        "XREAD",
        "COUNT",
        "5000",
        "BLOCK",
        "500",
        "STREAMS",
        ticks,
        last,
      ], {
        timeoutMs: 2_000,
      }).catch(() => null);
      if (!Array.isArray(reply)) continue;
      const now = epochMs();
      for (const stream of reply) {
        if (!Array.isArray(stream) || !Array.isArray(stream[1])) continue;
        for (const entry of stream[1]) {
          if (!Array.isArray(entry) || !Array.isArray(entry[1])) continue;
          last = String(entry[0]);
          const fields = entry[1].map(String);
          const at = Number(fields[fields.indexOf("at") + 1]);
          if (Number.isFinite(at)) latencies.push(now - at);
        }
      }
    }
  })();
  try {
    await body();
  } finally {
    reading = false;
    await loop;
    await link.close();
  }
  return latencies;
}

/** Runs the three measurements and reports their figures. */
export async function benchCluster(options: ClusterBenchOptions = {}): Promise<BenchResult> {
  const runs = options.runs ?? 20;
  const leaseMs = options.leaseMs ?? 1_000;
  const instruments = options.instruments ?? 3000;
  const windowMs = options.windowMs ?? 20_000;
  const warmupMs = options.warmupMs ?? 5_000;
  const log = options.log ?? (() => {});
  await using redis = await startRedisServer();
  await using sim = await startBenchSimulator({ tickMs: 1000 });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_cluster_" });
  try {
    log(`cluster: ${runs} takeovers after SIGKILL, lease ${leaseMs} ms`);
    const takeover = summarize(await takeovers(sim, redis, { runs, leaseMs, dir, log }));
    await redis.stop(); // A clean Redis for the bus: no lease, no stream.
    await redis.start();

    log(
      `cluster: ${instruments} instruments at 1 Hz, without and with the bus, ${
        windowMs / 1000
      } s each`,
    );
    const tokens = equityTokens(instruments);
    const alone = await startDaemonChild(sim, {
      dir: await Deno.makeTempDir({ dir, prefix: "alone_" }),
      accessToken: sim.issueAccessToken(),
      instruments: tokens,
    });
    let without: Window;
    try {
      without = await feedWindow(alone, { windowMs, warmupMs });
    } finally {
      await alone.close();
    }
    const holder = await startDaemonChild(sim, {
      dir: await Deno.makeTempDir({ dir, prefix: "holder_" }),
      accessToken: sim.issueAccessToken(),
      instruments: tokens,
      extraEnv: clusterLines(redis, leaseMs),
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    });
    let withBus: Window | undefined;
    let latencies: number[];
    try {
      await until(
        "the holder",
        async () => (await statusOf(holder.url))?.role === "holder",
        20_000,
      );
      latencies = await readLatencies(redis, async () => {
        withBus = await feedWindow(holder, { windowMs, warmupMs });
      });
    } finally {
      await holder.close();
    }
    const bus = withBus!;
    const latency = summarize(latencies);
    log(
      `cluster: takeover p50 ${round(takeover.p50, 0)} ms p99 ${round(takeover.p99, 0)} ms; bus ${
        round(bus.busPerS, 0)
      }/s of ${round(bus.upstreamPerS, 0)}/s, dropped ${bus.dropped}; CPU ${
        round(bus.cpu, 1)
      } % vs ${round(without.cpu, 1)} %`,
    );
    const lease = { name: "lease time", value: leaseMs };
    const withinGoal = { text: "≤ lease + 1 s", met: (value: number) => value <= leaseMs + 1_000 };
    return {
      figures: [
        figure({
          key: "cluster.takeover.p50_ms",
          benchmark: "cluster",
          name: `takeover after SIGKILL, p50 of ${runs}`,
          unit: "ms",
          value: round(takeover.p50, 1),
          baseline: lease,
        }),
        figure({
          key: "cluster.takeover.p99_ms",
          benchmark: "cluster",
          name: `takeover after SIGKILL, p99 of ${runs}`,
          unit: "ms",
          value: round(takeover.p99, 1),
          baseline: lease,
        }, withinGoal),
        figure({
          key: "cluster.bus.ticks_per_s",
          benchmark: "cluster",
          name: `bus throughput, ${instruments} instruments at 1 Hz`,
          unit: "ticks/s",
          value: round(bus.busPerS, 1),
          baseline: { name: "upstream ticks/s", value: round(bus.upstreamPerS, 1) },
        }, { text: "every tick, none dropped", met: (v, b) => v >= b * 0.99 && bus.dropped === 0 }),
        figure({
          key: "cluster.bus.latency_p99_ms",
          benchmark: "cluster",
          name: "holder → XREAD reader, p99",
          unit: "ms",
          value: round(latency.p99, 1),
          baseline: { name: "p50", value: round(latency.p50, 1) },
        }),
        figure({
          key: "cluster.holder.cpu_percent",
          benchmark: "cluster",
          name: `holder CPU with the bus, ${instruments} instruments`,
          unit: "% of a core",
          value: round(bus.cpu, 2),
          baseline: { name: "same feed without Redis", value: round(without.cpu, 2) },
        }),
      ],
      details: { runs, leaseMs, instruments, windowMs, takeover, latency, withBus: bus, without },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const result = await benchCluster({ log: console.log });
  for (const each of result.figures) {
    console.log(
      `${each.name}: ${each.value} ${each.unit} (${each.baseline.name} ${each.baseline.value})`,
    );
  }
}
