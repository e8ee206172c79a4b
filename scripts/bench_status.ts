/**
 * Benchmark: `GET /status` under load. The daemon runs as its own process, Live on three
 * instruments. Baselines, each its own process:
 * - a bare `Deno.serve` (`scripts/_bench_bare_server.ts`) answering every request with the
 *   bytes the daemon sent (status, headers, body);
 * - the daemon's own app (`scripts/_bench_app_server.ts`: `createApp`, Hono, the same
 *   middleware) answering `/status` with that body, fixed: the cost of the framework
 *   without computing a status;
 * - a bare `Deno.serveHttp` listener (`scripts/_bench_bare_serve_http_server.ts`) answering
 *   the same bytes: the ceiling of the daemon's listener, which owns each connection that way.
 *
 * Load comes from this process: `connections` keep-alive HTTP/1.1 connections over
 * loopback, each sending one request at a time and reading the whole response before the
 * next (as `wrk` does), until the round's count is done or its time is up. Rounds alternate
 * between the servers, so load from elsewhere on the machine hits them alike; a warm-up
 * round each comes first. Requests per second are the median over the rounds, and the
 * daemon's ratio to the bare server is also given per round (median and range), since a
 * shared machine's noise moves whole rounds. Latency is from writing a request to having read its
 * response. The servers' and this process's CPU over the rounds is reported too: a server
 * near 100 % is the limit; one well below it means the load generator was.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=deno,cat \
 *   scripts/bench_status.ts [--requests N] [--connections N] [--rounds N] [--warmup N] [--profile DIR]
 * ```
 *
 * @module
 */
import { DEFAULT_INSTRUMENTS } from "../src/kite/instruments.ts";
import type { FixedResponse } from "./_bench_bare_server.ts";
import {
  type ProcSample,
  procSample,
  spawnDeno,
  startBenchSimulator,
  startDaemonChild,
  untilLive,
} from "./_bench_process.ts";
import { type BenchResult, figure, round, summarize } from "./_bench_stats.ts";
import { runBench } from "./_bench_cli.ts";

/** Options of {@linkcode benchStatus}. */
export interface StatusOptions {
  /** Measured requests per server, over all rounds; default 60 000. */
  readonly requests?: number;
  /** Concurrent connections; default 16. */
  readonly connections?: number;
  /** Measured rounds per server; default 6. */
  readonly rounds?: number;
  /** Warm-up requests per server; default 10 000 (JIT tiers: with 2000, rates rose round by round). */
  readonly warmup?: number;
  /** A round stops after this long, done or not; default 30 s. */
  readonly roundLimitMs?: number;
  /** Where to write a V8 CPU profile of the daemon; none by default. */
  readonly profileDir?: string;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

interface Round {
  readonly requests: number;
  readonly elapsedMs: number;
  readonly latencies: number[];
  /** Responses with another status than expected. */
  readonly unexpected: number;
}

const HEADER_END = new Uint8Array([13, 10, 13, 10]);

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, end: number): number {
  outer: for (let i = 0; i + needle.length <= end; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Status code and Content-Length of a response head; chunked bodies are not expected here. */
function parseHead(head: string): { status: number; length: number } {
  const status = Number(head.slice(9, 12));
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (length === undefined) throw new Error("Failed to load: a response without Content-Length");
  return { status, length: Number(length) };
}

/** One connection sending `GET path` one at a time while `next()` grants another request. */
async function drive(
  port: number,
  path: string,
  options: { next: () => boolean; expected: number; latencies: number[] },
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const request = new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(1 << 16);
  let filled = 0;
  let unexpected = 0;
  try {
    while (options.next()) {
      const sent = performance.now();
      for (let written = 0; written < request.length;) {
        written += await conn.write(request.subarray(written));
      }
      let total = -1;
      let status = 0;
      while (total < 0 || filled < total) {
        if (total < 0) {
          const end = indexOfBytes(buffer, HEADER_END, filled);
          if (end >= 0) {
            const head = parseHead(decoder.decode(buffer.subarray(0, end)));
            status = head.status;
            total = end + HEADER_END.length + head.length;
            if (total > buffer.length) {
              const larger = new Uint8Array(total * 2);
              larger.set(buffer.subarray(0, filled));
              buffer = larger;
            }
            continue;
          }
        }
        const read = await conn.read(buffer.subarray(filled));
        if (read === null) throw new Error("Failed to load: the server closed the connection");
        filled += read;
      }
      options.latencies.push(performance.now() - sent);
      if (status !== options.expected) unexpected++;
      buffer.copyWithin(0, total, filled);
      filled -= total;
    }
  } finally {
    conn.close();
  }
  return unexpected;
}

/** `requests` requests over `connections` connections, or as many as fit `limitMs`. */
async function loadRound(
  port: number,
  options: { requests: number; connections: number; limitMs: number; expected: number },
): Promise<Round> {
  const latencies: number[] = [];
  let granted = 0;
  const started = performance.now();
  const deadline = started + options.limitMs;
  const next = () => granted < options.requests && performance.now() < deadline && ++granted > 0;
  const drivers = Array.from(
    { length: options.connections },
    () => drive(port, "/status", { next, expected: options.expected, latencies }),
  );
  const unexpected = (await Promise.all(drivers)).reduce((sum, n) => sum + n, 0);
  return {
    requests: latencies.length,
    elapsedMs: performance.now() - started,
    latencies,
    unexpected,
  };
}

/** A server under test: its port and the process to sample. */
interface Target {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly expected: number;
}

interface Totals {
  requests: number;
  elapsedMs: number;
  latencies: number[];
  unexpected: number;
  cpuSeconds: number;
  /** The load generator's CPU seconds while loading this server. */
  loaderCpuSeconds: number;
  /** Requests per second of each round. */
  rates: number[];
}

function emptyTotals(): Totals {
  return {
    requests: 0,
    elapsedMs: 0,
    latencies: [],
    unexpected: 0,
    cpuSeconds: 0,
    loaderCpuSeconds: 0,
    rates: [],
  };
}

/** Median, least and greatest of `values`, rounded. */
function spread(values: readonly number[]): { median: number; min: number; max: number } {
  return {
    median: round(median(values)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

function median(values: readonly number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid] as number
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A baseline server child (`scripts/_bench_*_server.ts FILE`), listening. */
async function startServer(
  script: string,
  file: string,
): Promise<AsyncDisposable & { port: number; pid: number }> {
  const child = spawnDeno([
    "run",
    "--allow-net=127.0.0.1",
    `--allow-read=${file}`,
    new URL(`./${script}`, import.meta.url).pathname,
    file,
  ]);
  try {
    const match = await child.stdout.waitFor(/listening on http:\/\/[^:]+:(\d+)/, 30_000);
    return { port: Number(match[1]), pid: child.pid, [Symbol.asyncDispose]: () => child.close() };
  } catch (error: unknown) {
    await child.close();
    throw new Error(
      `Failed to start ${script}: ${(error as Error).message}\n${child.stderr.tail()}`,
    );
  }
}

/**
 * Loads the daemon, its app answering a fixed status, and a bare server answering the same
 * bytes, in alternating rounds, and compares them.
 */
export async function benchStatus(options: StatusOptions = {}): Promise<BenchResult> {
  const requests = options.requests ?? 60_000;
  const connections = options.connections ?? 16;
  const rounds = options.rounds ?? 6;
  const warmup = options.warmup ?? 10_000;
  const limitMs = options.roundLimitMs ?? 30_000;
  const log = options.log ?? (() => {});
  await using sim = await startBenchSimulator({ tickMs: 1000 });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_" });
  try {
    await using daemon = await startDaemonChild(sim, {
      dir,
      accessToken: sim.issueAccessToken(),
      instruments: DEFAULT_INSTRUMENTS,
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    });
    await untilLive(daemon.url);

    // The bare server answers with what the daemon answered (Date and length are Deno's).
    const response = await fetch(`${daemon.url}/status`);
    const fixed: FixedResponse = {
      status: response.status,
      headers: [...response.headers].filter(([name]) => !/^(date|content-length)$/i.test(name)),
      body: await response.text(),
    };
    const responseFile = `${dir}/response.json`;
    await Deno.writeTextFile(responseFile, JSON.stringify(fixed));
    const statusFile = `${dir}/status.json`;
    await Deno.writeTextFile(statusFile, fixed.body);
    await using bare = await startServer("_bench_bare_server.ts", responseFile);
    await using app = await startServer("_bench_app_server.ts", statusFile);
    await using ceiling = await startServer("_bench_bare_serve_http_server.ts", responseFile);

    const targets: Target[] = [
      { name: "daemon", port: Number(new URL(daemon.url).port), pid: daemon.pid, expected: 200 },
      { name: "app", port: app.port, pid: app.pid, expected: 200 },
      { name: "bare", port: bare.port, pid: bare.pid, expected: fixed.status },
      { name: "serveHttp", port: ceiling.port, pid: ceiling.pid, expected: fixed.status },
    ];
    log(`/status: ${requests} requests each, ${connections} connections, ${rounds} rounds`);
    for (const target of targets) {
      await loadRound(target.port, { ...target, requests: warmup, connections, limitMs });
    }
    const totals = new Map(targets.map((target) => [target.name, emptyTotals()]));
    let loaderCpu = 0;
    let loaderMs = 0;
    for (let r = 0; r < rounds; r++) {
      for (const target of targets) {
        const before: [ProcSample, ProcSample] = [
          await procSample(target.pid),
          await procSample(Deno.pid),
        ];
        const round = await loadRound(target.port, {
          ...target,
          requests: Math.ceil(requests / rounds),
          connections,
          limitMs,
        });
        const server = await procSample(target.pid);
        const loader = await procSample(Deno.pid);
        const total = totals.get(target.name) as Totals;
        total.requests += round.requests;
        total.elapsedMs += round.elapsedMs;
        total.latencies.push(...round.latencies);
        total.unexpected += round.unexpected;
        total.cpuSeconds += server.cpuSeconds - before[0].cpuSeconds;
        total.rates.push(round.requests / (round.elapsedMs / 1000));
        loaderCpu += loader.cpuSeconds - before[1].cpuSeconds;
        total.loaderCpuSeconds += loader.cpuSeconds - before[1].cpuSeconds;
        loaderMs += round.elapsedMs;
      }
    }
    const daemonTotals = totals.get("daemon") as Totals;
    const appTotals = totals.get("app") as Totals;
    const bareTotals = totals.get("bare") as Totals;
    const ceilingTotals = totals.get("serveHttp") as Totals;
    for (const [name, total] of totals) {
      if (total.unexpected > 0) {
        throw new Error(`Failed to load ${name} /status: ${total.unexpected} unexpected answers`);
      }
    }
    const rps = (t: Totals) => median(t.rates);
    // Each round's daemon rate over the bare server's in the same round.
    const ratios = daemonTotals.rates.map((rate, i) => rate / (bareTotals.rates[i] as number));
    const ceilingRatios = ceilingTotals.rates.map((rate, i) =>
      rate / (bareTotals.rates[i] as number)
    );
    const daemonLatency = summarize(daemonTotals.latencies);
    const appLatency = summarize(appTotals.latencies);
    const bareLatency = summarize(bareTotals.latencies);
    const ceilingLatency = summarize(ceilingTotals.latencies);
    const cpu = (t: Totals) => round(t.cpuSeconds / (t.elapsedMs / 1000) * 100, 1);
    return {
      figures: [
        figure({
          key: "status.requests_per_s",
          benchmark: "/status",
          name: `requests/s, ${connections} keep-alive connections`,
          unit: "req/s",
          value: Math.round(rps(daemonTotals)),
          baseline: { name: "bare Deno.serve, same bytes", value: Math.round(rps(bareTotals)) },
        }, { text: "≥ 0.8 × baseline", met: (value, base) => value >= 0.8 * base }),
        figure({
          key: "status.p99_ms",
          benchmark: "/status",
          name: `latency p99, ${connections} keep-alive connections`,
          unit: "ms",
          value: round(daemonLatency.p99),
          baseline: { name: "bare Deno.serve, same bytes", value: round(bareLatency.p99) },
        }),
        figure({
          key: "status.app.requests_per_s",
          benchmark: "/status",
          name: "requests/s",
          unit: "req/s",
          value: Math.round(rps(daemonTotals)),
          baseline: {
            name: "the daemon's app, fixed status body",
            value: Math.round(rps(appTotals)),
          },
        }),
        figure({
          key: "status.framework.requests_per_s",
          benchmark: "/status",
          name: "requests/s, the daemon's app with a fixed status body",
          unit: "req/s",
          value: Math.round(rps(appTotals)),
          baseline: { name: "bare Deno.serve, same bytes", value: Math.round(rps(bareTotals)) },
        }),
        figure({
          key: "status.listener.requests_per_s",
          benchmark: "/status",
          name: "requests/s, a bare Deno.serveHttp listener (the daemon's), same bytes",
          unit: "req/s",
          value: Math.round(rps(ceilingTotals)),
          baseline: { name: "bare Deno.serve, same bytes", value: Math.round(rps(bareTotals)) },
        }),
      ],
      details: {
        requests_per_server: daemonTotals.requests,
        connections,
        rounds,
        warmup,
        body_bytes: new TextEncoder().encode(fixed.body).length,
        requests_per_s: Object.fromEntries(
          [...totals].map(([name, total]) => [name, total.rates.map((rate) => Math.round(rate))]),
        ),
        ratio_per_round: { daemon: spread(ratios), serveHttp: spread(ceilingRatios) },
        latency_ms: {
          daemon: daemonLatency,
          app: appLatency,
          bare: bareLatency,
          serveHttp: ceilingLatency,
        },
        cpu_percent: {
          daemon: cpu(daemonTotals),
          app: cpu(appTotals),
          bare: cpu(bareTotals),
          serveHttp: cpu(ceilingTotals),
          load_generator: round(loaderCpu / (loaderMs / 1000) * 100, 1),
        },
        // Requests per CPU-second of each server: what a request costs it, which the load of
        // other processes on a shared machine moves far less than requests per second.
        requests_per_cpu_s: Object.fromEntries(
          [...totals].map(([name, total]) => [name, Math.round(total.requests / total.cpuSeconds)]),
        ),
        // Near 100 % while loading one server, the load generator was that server's limit.
        load_generator_cpu_percent: Object.fromEntries(
          [...totals].map((
            [name, total],
          ) => [name, round(total.loaderCpuSeconds / (total.elapsedMs / 1000) * 100, 1)]),
        ),
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  await runBench(benchStatus, [
    { flag: "requests", option: "requests" },
    { flag: "connections", option: "connections" },
    { flag: "rounds", option: "rounds" },
    { flag: "warmup", option: "warmup" },
    { flag: "profile", option: "profileDir", text: true },
  ]);
}
