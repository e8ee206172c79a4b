/**
 * The benchmarks, in one go, against the simulator: recovery from a token rotation, tick
 * decoding, fan-out to `/stream` clients, the Kite-compatible `/ws` endpoint, the idle daemon, `/status` under load, the simulator itself at Kite's limits, the journal (its cost, replay and export), and two nodes with
 * one Redis (takeover, tick bus, holder CPU). Each
 * figure is printed beside a baseline measured in the same run, with the ratio and the goal
 * it answers to; everything goes to `bench/results.json` too.
 *
 * ```sh
 * deno task bench [--quick] [--only recovery,decode,fanout,endpoint,idle,status,simulator,journal,cluster] [--out PATH] [--profile DIR]
 * # that is: deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 * #   --allow-run=deno,cat,ls,/usr/bin/redis-server scripts/bench.ts …
 * ```
 *
 * `--quick` runs every benchmark with tiny sizes, in seconds: figures that keep the
 * benchmarks working, not figures to quote. The daemon runs as its own process
 * (`deno run <RUN_PERMISSIONS> main.ts run`), as do the client fleets and the baseline
 * servers; `cat` reads `/proc`, which Deno reads only under `--allow-all`.
 *
 * Exit code: 0 when every benchmark ran (goals met or not: see the table), 2 when one
 * failed.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BenchResult, type Figure, round } from "./_bench_stats.ts";
import { formatTable } from "./_bench_table.ts";
import { benchDecode, type DecodeBenchRow, decodeFigures } from "./bench_decode.ts";
import { benchEndpoint } from "./bench_endpoint.ts";
import { benchSimulator } from "./bench_simulator.ts";
import { benchFanout } from "./bench_fanout.ts";
import { benchIdle } from "./bench_idle.ts";
import { benchJournal } from "./bench_journal.ts";
import { benchRecovery } from "./bench_recovery.ts";
import { benchStatus } from "./bench_status.ts";
import { benchCluster } from "./bench_cluster.ts";

/** A benchmark's name on the command line and in the results. */
export type BenchName =
  | "recovery"
  | "decode"
  | "fanout"
  | "endpoint"
  | "idle"
  | "status"
  | "simulator"
  | "journal"
  | "cluster";

/** What `bench/results.json` holds. */
export interface BenchResults {
  /** ISO 8601, when the run started. */
  readonly date: string;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly duration_s: number;
  /** Every figure of every benchmark run, in table order. */
  readonly figures: readonly Figure[];
  /** Each benchmark's settings, counts and raw summaries. */
  readonly details: Readonly<Partial<Record<BenchName, Readonly<Record<string, unknown>>>>>;
  /** Goals met, out of the figures that have one. */
  readonly goals: { readonly met: number; readonly total: number };
}

/** Where the figures were measured. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly os: string;
  readonly deno: string;
  readonly v8: string;
  /** `/proc/loadavg`'s 1, 5 and 15-minute load before and after the run. */
  readonly loadavg_before: readonly number[];
  readonly loadavg_after: readonly number[];
}

type Log = (line: string) => void;

const NAMES: readonly BenchName[] = [
  "recovery",
  "decode",
  "fanout",
  "endpoint",
  "idle",
  "status",
  "simulator",
  "journal",
  "cluster",
];
const DEFAULT_OUT = new URL("../bench/results.json", import.meta.url).pathname;

/**
 * Decode rows from a child `deno run --cpu-prof` of `bench_decode.ts`: decoding runs in the
 * bench process otherwise, and a profile of that would hold everything else it does.
 */
async function decodeInChild(
  settings: { budgetMs: number; samples: number; messages?: number },
  profileDir: string,
): Promise<DecodeBenchRow[]> {
  const script = new URL("./bench_decode.ts", import.meta.url).pathname;
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      "--allow-read",
      "--allow-env",
      script,
      "--json",
      "--budget-ms",
      String(settings.budgetMs),
      "--samples",
      String(settings.samples),
      ...(settings.messages === undefined ? [] : ["--messages", String(settings.messages)]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Failed to run bench_decode.ts: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)) as DecodeBenchRow[];
}

/** Runs benchmark `name`, tiny when `quick`, profiling into `profileDir` when given. */
async function run(
  name: BenchName,
  options: { quick: boolean; log: Log; profileDir: string | undefined },
): Promise<BenchResult> {
  const { quick, log } = options;
  const profile = options.profileDir === undefined ? {} : { profileDir: options.profileDir };
  switch (name) {
    case "recovery":
      return await benchRecovery({ ...(quick ? { rotations: 3 } : {}), ...profile, log });
    case "decode": {
      log("decode: decode() against kiteconnect's parseBinary, full, quote and ltp");
      // Longer and more samples than the script's own default: the machine may be shared.
      const settings = quick
        ? { budgetMs: 40, samples: 3, messages: 8 }
        : { budgetMs: 2000, samples: 7 };
      const rows = options.profileDir === undefined
        ? benchDecode(settings)
        : await decodeInChild(settings, options.profileDir);
      return { figures: decodeFigures(rows), details: { rows } };
    }
    case "fanout":
      return await benchFanout({
        ...(quick ? { instruments: 50, clients: 3, windowMs: 1500, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "endpoint":
      return await benchEndpoint({
        ...(quick ? { instruments: 50, clients: 2, windowMs: 1500, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "idle":
      return await benchIdle({
        ...(quick ? { windowMs: 2000, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "simulator":
      return await benchSimulator({
        ...(quick ? { perSocket: 50, windowMs: 1500, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "journal":
      return await benchJournal({
        // Enough instruments that the daemon's CPU over the window shows in /proc's 10 ms steps.
        ...(quick ? { instruments: 1000, windowMs: 3000, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "cluster":
      // Quick, yet long enough for /proc's 10 ms CPU steps to see the daemon without the bus.
      return await benchCluster({
        ...(quick ? { runs: 2, instruments: 500, windowMs: 3000, warmupMs: 500 } : {}),
        ...profile,
        log,
      });
    case "status":
      return await benchStatus({
        ...(quick ? { requests: 300, connections: 4, rounds: 2, warmup: 50 } : {}),
        ...profile,
        log,
      });
  }
}

async function cat(path: string): Promise<string> {
  const output = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  return output.success ? new TextDecoder().decode(output.stdout) : "";
}

async function loadavg(): Promise<number[]> {
  return (await cat("/proc/loadavg")).split(" ").slice(0, 3).map(Number);
}

async function machine(before: number[]): Promise<Machine> {
  const model = /^model name\s*:\s*(.+)$/m.exec(await cat("/proc/cpuinfo"))?.[1];
  return {
    cpu: model ?? "unknown",
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    loadavg_before: before,
    loadavg_after: await loadavg(),
  };
}

function parseOnly(text: string | undefined): BenchName[] {
  if (text === undefined) return [...NAMES];
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  for (const name of names) {
    if (!NAMES.includes(name as BenchName)) {
      throw new TypeError(`Failed to read --only: "${name}" is not one of ${NAMES.join(", ")}`);
    }
  }
  return names as BenchName[];
}

/**
 * Runs `names` in order and gathers their figures; with `profileDir`, each writes a V8 CPU
 * profile of what it measures (the daemon, the simulator, the decoder) into
 * `<profileDir>/<name>/`.
 */
export async function runBenchmarks(
  names: readonly BenchName[],
  options: { quick: boolean; log?: Log; profileDir?: string },
): Promise<BenchResults> {
  const log = options.log ?? (() => {});
  const date = new Date().toISOString();
  const before = await loadavg();
  const started = performance.now();
  const figures: Figure[] = [];
  const details: Partial<Record<BenchName, Readonly<Record<string, unknown>>>> = {};
  for (const name of names) {
    let profileDir: string | undefined;
    if (options.profileDir !== undefined) {
      profileDir = resolve(options.profileDir, name);
      await Deno.mkdir(profileDir, { recursive: true });
    }
    const result = await run(name, { quick: options.quick, log, profileDir });
    figures.push(...result.figures);
    details[name] = result.details;
  }
  const goals = figures.filter((f) => f.goal !== undefined);
  return {
    date,
    quick: options.quick,
    machine: await machine(before),
    duration_s: round((performance.now() - started) / 1000, 1),
    figures,
    details,
    goals: { met: goals.filter((f) => f.goal?.met).length, total: goals.length },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string", default: DEFAULT_OUT },
      profile: { type: "string" },
    },
  });
  const names = parseOnly(values.only);
  let results: BenchResults;
  try {
    results = await runBenchmarks(names, {
      quick: values.quick,
      ...(values.profile === undefined ? {} : { profileDir: values.profile }),
      log: (line) => console.error(line),
    });
  } catch (error: unknown) {
    console.error(`Failed to run the benchmarks: ${error instanceof Error ? error.stack : error}`);
    return 2;
  }
  await Deno.mkdir(dirname(values.out), { recursive: true });
  await Deno.writeTextFile(values.out, `${JSON.stringify(results, null, 2)}\n`);
  const { machine: m } = results;
  console.log(
    `${results.date}  ${m.cpu}, ${m.cores} cores, ${m.os}, Deno ${m.deno}; ` +
      `load ${m.loadavg_before.join(" ")} → ${m.loadavg_after.join(" ")}` +
      (results.quick ? "  (--quick: tiny sizes, not figures to quote)" : ""),
  );
  console.log(formatTable(results.figures));
  console.log(
    `goals met: ${results.goals.met}/${results.goals.total}; ${results.duration_s} s; ` +
      `written to ${values.out}`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
