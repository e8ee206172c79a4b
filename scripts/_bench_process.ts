/**
 * Child processes for the benchmarks: the daemon as `deno run … main.ts run`, the client
 * fleets and the bare server, their output read line by line, and what `/proc` says a
 * process costs. Private to `scripts/bench*.ts`.
 *
 * Deno reads `/proc/<pid>/*` only under `--allow-all`, so `cat` (`--allow-run=cat`) reads it.
 *
 * @module
 */
import { RUN_PERMISSIONS } from "../src/ops/permissions.ts";
import { RUNTIME_ENV, V8_FLAGS } from "../src/ops/runtime_settings.ts";
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../src/simulator/simulator.ts";
import { KITE } from "../src/testing/daemon_harness.ts";
import { freePort } from "../src/testing/simulator_env.ts";
import { optionTokens } from "../src/simulator/instruments.ts";
import type { ClientReport, WsRead } from "./_bench_client.ts";
import { delay } from "./_bench_stats.ts";

export { freePort, KITE };

/** The repository's root directory. */
export const REPO_DIR = new URL("../", import.meta.url).pathname;
/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every Linux port). */
const CLOCK_TICKS_PER_S = 100;
const LAST_LINES = 40;

/** A child process's output, split into lines as they come. */
export class LineReader {
  #lines: string[] = [];
  #waiters = new Set<() => void>();
  #ended = false;
  /** Resolves once the stream has ended. */
  readonly done: Promise<void>;

  /** Starts reading `stream` at once, so the child never blocks on a full pipe. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#read(stream);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      this.#lines.push(...parts);
      this.#wake();
    }
    if (buffer !== "") this.#lines.push(buffer);
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Every line read so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** The last lines, for an error message. */
  tail(): string {
    return this.#lines.slice(-LAST_LINES).join("\n");
  }

  /** The first line (read or to come) that `pattern` matches; rejects on end or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const { promise, resolve, reject } = Promise.withResolvers<RegExpExecArray>();
    let checked = 0;
    const check = () => {
      for (; checked < this.#lines.length; checked++) {
        const match = pattern.exec(this.#lines[checked] ?? "");
        if (match !== null) return finish(() => resolve(match));
      }
      if (this.#ended) finish(() => reject(new Error(`The output ended before ${pattern}`)));
    };
    const timer = setTimeout(
      () =>
        finish(() => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${pattern}`))),
      timeoutMs,
    );
    function finish(settle: () => void): void {
      clearTimeout(timer);
      waiters.delete(check);
      settle();
    }
    const waiters = this.#waiters;
    waiters.add(check);
    check();
    return promise;
  }
}

/** A running `deno` child with its output being read. */
export interface DenoChild extends AsyncDisposable {
  readonly pid: number;
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  /** Writes a line to the child's stdin. */
  send(line: string): Promise<void>;
  /** Closes the child's stdin (the client fleets take it as "stop and report"). */
  endInput(): Promise<void>;
  /** Resolves with the exit code once the child has exited and its output is read. */
  readonly exited: Promise<number>;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it has exited. */
  close(): Promise<void>;
  /** Sends `signal` now (e.g. SIGKILL: a crash); an exited child is ignored. */
  kill(signal: Deno.Signal): void;
}

/** The environment a child gets: only what `deno` needs to find its cache, nothing of ours. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Starts `deno <args>` in the repository's directory with a clean environment. */
export function spawnDeno(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>> } = {},
): DenoChild {
  // "deno" from PATH: the bench task grants `--allow-run=deno`, which names exactly that.
  const process = new Deno.Command("deno", {
    args: [...args],
    cwd: REPO_DIR,
    clearEnv: true,
    env: { ...childEnv(), ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineReader(process.stdout);
  const stderr = new LineReader(process.stderr);
  const writer = process.stdin.getWriter();
  let inputOpen = true;
  const exited = (async () => {
    const status = await process.status;
    await Promise.all([stdout.done, stderr.done]);
    return status.code;
  })();
  let closing: Promise<void> | undefined;
  async function endInput(): Promise<void> {
    if (!inputOpen) return;
    inputOpen = false;
    await writer.close().catch(() => {});
  }
  function close(): Promise<void> {
    closing ??= (async () => {
      await endInput();
      try {
        process.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const killer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }, 3000);
      await exited;
      clearTimeout(killer);
    })();
    return closing;
  }
  return {
    pid: process.pid,
    stdout,
    stderr,
    async send(line) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
    },
    endInput,
    exited,
    close,
    kill(signal) {
      try {
        process.kill(signal);
      } catch {
        // Already exited.
      }
    },
    [Symbol.asyncDispose]: close,
  };
}

/** What `/proc` says of a process: CPU seconds so far, and memory. */
export interface ProcSample {
  /** User + system CPU time of every thread, live or exited, in seconds (10 ms steps). */
  readonly cpuSeconds: number;
  /** Resident set size now, and its peak, in bytes. */
  readonly rssBytes: number;
  readonly rssPeakBytes: number;
}

/** Reads `/proc/<pid>/stat` and `/proc/<pid>/status`. */
export async function procSample(pid: number): Promise<ProcSample> {
  const output = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`, `/proc/${pid}/status`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`Failed to read /proc/${pid}: is it still running?`);
  const text = new TextDecoder().decode(output.stdout);
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ")".
  const fields = text.slice(text.indexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  const sample = {
    cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_S,
    rssBytes: kb("VmRSS") * 1024,
    rssPeakBytes: kb("VmHWM") * 1024,
  };
  if (!Object.values(sample).every(Number.isFinite)) {
    throw new Error(`Failed to read /proc/${pid}: unexpected format`);
  }
  return sample;
}

/**
 * CPU time of every live thread of `pid`, in ns, from `/proc/<pid>/task/<tid>/schedstat`:
 * exact where `/proc/<pid>/stat` counts 10 ms steps, which an idle process's minute is a few
 * of. A thread that exits between two readings takes its time with it (compare with
 * {@linkcode procSample}). `ls` lists the threads (`--allow-run=ls`).
 */
export async function threadCpuNs(pid: number): Promise<number> {
  const list = await new Deno.Command("ls", {
    args: [`/proc/${pid}/task`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!list.success) throw new Error(`Failed to list /proc/${pid}/task: is it still running?`);
  const tids = new TextDecoder().decode(list.stdout).split(/\s+/).filter((t) => /^\d+$/.test(t));
  // A thread gone since the listing: cat says so on stderr and reads the others.
  const read = await new Deno.Command("cat", {
    args: tids.map((tid) => `/proc/${pid}/task/${tid}/schedstat`),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  let ns = 0;
  for (const line of new TextDecoder().decode(read.stdout).split("\n")) {
    const runtime = Number(line.split(" ")[0]);
    if (line !== "" && Number.isFinite(runtime)) ns += runtime;
  }
  return ns;
}

/** CPU used between two samples of one process, as a percentage of one core over `ms`. */
export function cpuPercent(before: ProcSample, after: ProcSample, ms: number): number {
  return (after.cpuSeconds - before.cpuSeconds) / (ms / 1000) * 100;
}

/**
 * A simulator for a benchmark: the harness's account, a 1 s heartbeat as Kite's, and a
 * callback URL that goes nowhere unless one is given.
 */
export function startBenchSimulator(
  options: Partial<SimulatorOptions> & { tickMs: number },
): Promise<Simulator> {
  return startSimulator({
    ...KITE,
    redirectUrl: "http://127.0.0.1:9/api/auth/callback",
    heartbeatMs: 1000,
    ...options,
  });
}

/** The daemon, run as its own process. */
export interface DaemonChild extends AsyncDisposable {
  readonly url: string;
  readonly pid: number;
  readonly envFile: string;
  readonly child: DenoChild;
  close(): Promise<void>;
}

/** Options of {@linkcode startDaemonChild}. */
export interface DaemonChildOptions {
  /** A directory for its `.env`; the caller removes it. */
  readonly dir: string;
  /** The token in `.env` at start. */
  readonly accessToken: string;
  /** Instrument tokens to subscribe. */
  readonly instruments: readonly number[];
  /** `--listen`; default `127.0.0.1:0`. */
  readonly listen?: string;
  /** More `.env` lines, e.g. `KITEKEEPER_JOURNAL_DIR=…`. */
  readonly extraEnv?: readonly string[];
  /** Where to write a V8 CPU profile of the daemon (`deno run --cpu-prof`); none by default. */
  readonly profileDir?: string;
  /**
   * V8's `--max-semi-space-size` (MB) in place of the shipped one, to measure what the
   * young generation's size costs; the shipped settings by default.
   */
  readonly semiSpaceMb?: number;
}

/** The `--v8-flags=` argument: the shipped flags, with the semi-space size replaced if given. */
function daemonV8Flags(semiSpaceMb: number | undefined): string {
  const semi = "--max-semi-space-size=";
  const flags = semiSpaceMb === undefined
    ? V8_FLAGS
    : [...V8_FLAGS.filter((flag) => !flag.startsWith(semi)), `${semi}${semiSpaceMb}`];
  return `--v8-flags=${flags.join(",")}`;
}

/**
 * Writes a `.env` pointing at `sim` and starts `deno run <RUN_PERMISSIONS> main.ts run` on
 * it; resolves once it says it listens.
 */
export async function startDaemonChild(
  sim: Simulator,
  options: DaemonChildOptions,
): Promise<DaemonChild> {
  const envFile = `${options.dir}/.env`;
  const lines = [
    `KITE_API_KEY=${KITE.apiKey}`,
    `KITE_API_SECRET=${KITE.apiSecret}`,
    `KITE_USER_ID=${KITE.userId}`,
    `KITE_API_ROOT=${sim.url}`,
    `KITE_LOGIN_URL=${sim.url}/connect/login`,
    `KITE_TICKER_URL=${sim.tickerUrl}`,
    `KITEKEEPER_INSTRUMENTS=${options.instruments.join(",")}`,
    "KITEKEEPER_MODE=full",
    `KITE_ACCESS_TOKEN=${options.accessToken}`,
    ...(options.extraEnv ?? []),
  ];
  await Deno.writeTextFile(envFile, lines.map((line) => `${line}\n`).join(""), { mode: 0o600 });
  await Deno.chmod(envFile, 0o600);
  // The runtime settings kitekeeper ships (the units, deno task start): measure what runs.
  const child = spawnDeno([
    "run",
    daemonV8Flags(options.semiSpaceMb),
    ...RUN_PERMISSIONS,
    ...(options.profileDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]),
    "main.ts",
    "run",
    "--env-file",
    envFile,
    "--listen",
    options.listen ?? "127.0.0.1:0",
  ], { env: RUNTIME_ENV });
  let url: string;
  try {
    const match = await child.stdout.waitFor(/kitekeeper listening on (http:\/\/\S+)/, 30_000);
    url = match[1] as string;
  } catch (error: unknown) {
    await child.close();
    throw new Error(
      `Failed to start the daemon: ${(error as Error).message}\n${child.stderr.tail()}`,
    );
  }
  const close = () => child.close();
  return { url, pid: child.pid, envFile, child, close, [Symbol.asyncDispose]: close };
}

/** Polls `url`/status until it answers 200 (Live); rejects after `timeoutMs`. */
export async function untilLive(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/status`);
      const body = await response.json() as { state?: string; reason?: string };
      if (response.status === 200) return;
      last = `${body.state}: ${body.reason}`;
    } catch (error: unknown) {
      last = (error as Error).message;
    }
    await delay(50);
  }
  throw new Error(`Failed to see the daemon Live within ${timeoutMs} ms (${last})`);
}

/**
 * `count` instrument tokens the simulator ticks (its NFO option block: it sends nothing for
 * tokens it does not list, as Kite), the same list in every process that asks; at most
 * 10 000 (`OPTION_COUNT`).
 */
export function equityTokens(count: number): number[] {
  return optionTokens(count);
}

/** A client fleet (`scripts/_bench_client.ts`) running in its own process. */
export interface ClientFleet extends AsyncDisposable {
  readonly pid: number;
  /** Starts the measured window. */
  start(): Promise<void>;
  /** Ends the window and returns what the fleet measured. */
  finish(): Promise<ClientReport>;
  close(): Promise<void>;
}

/** Starts a `ws` or `sse` fleet; resolves once every connection has had a tick. */
export async function startClientFleet(
  kind: "ws" | "sse",
  options: { url: string; tokens?: readonly number[]; clients?: number; read?: WsRead },
): Promise<ClientFleet> {
  const child = spawnDeno([
    "run",
    "--allow-net=127.0.0.1",
    new URL("./_bench_client.ts", import.meta.url).pathname,
    kind,
    "--url",
    options.url,
    "--tokens",
    (options.tokens ?? []).join(","),
    "--clients",
    String(options.clients ?? 1),
    "--read",
    options.read ?? "decode",
  ]);
  try {
    await child.stdout.waitFor(/^ready$/, 60_000);
  } catch (error: unknown) {
    await child.close();
    throw new Error(
      `Failed to start the ${kind} clients: ${(error as Error).message}\n${child.stderr.tail()}`,
    );
  }
  const close = () => child.close();
  return {
    pid: child.pid,
    start: () => child.send("start"),
    async finish() {
      await child.endInput();
      const match = await child.stdout.waitFor(/^\{"report":/, 60_000);
      const line = child.stdout.lines.find((l) => l.startsWith(match[0])) ?? "";
      await child.exited;
      return (JSON.parse(line) as { report: ClientReport }).report;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The bare relay (`scripts/_bench_relay.ts`) running in its own process. */
export interface BareRelay extends AsyncDisposable {
  /** Where it serves `/stream` and `/ws`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly pid: number;
  /** Starts its CPU window. */
  start(): Promise<void>;
  /** Ends the window; its CPU over it (its own getrusage), % of one core. */
  cpuPercent(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the bare relay on the ticker at `tickerUrl`, subscribed to `tokens` in full mode,
 * serving with `Deno.serve`, or with the daemon's own listener (`listener: "daemon"`).
 */
export async function startBareRelay(
  tickerUrl: string,
  tokens: readonly number[],
  options: { listener?: "serve" | "daemon" } = {},
): Promise<BareRelay> {
  const relay = spawnDeno([
    "run",
    "--allow-net=127.0.0.1",
    new URL("./_bench_relay.ts", import.meta.url).pathname,
    "--ticker",
    tickerUrl,
    "--tokens",
    tokens.join(","),
    "--listener",
    options.listener ?? "serve",
  ]);
  let url: string;
  try {
    const match = await relay.stdout.waitFor(/relay listening on (http:\/\/\S+)/, 30_000);
    url = match[1] as string;
  } catch (error: unknown) {
    await relay.close();
    throw new Error(`Failed to start the bare relay: ${(error as Error).message}`);
  }
  const close = () => relay.close();
  return {
    url,
    pid: relay.pid,
    start: () => relay.send("start"),
    async cpuPercent() {
      await relay.endInput();
      const report = await relay.stdout.waitFor(/^\{"relay":/, 30_000);
      const line = relay.stdout.lines.find((l) => l.startsWith(report[0])) ?? "";
      return (JSON.parse(line) as { relay: { cpu_percent: number } }).relay.cpu_percent;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
