/**
 * Soak: N token rotations and N drops against the simulator, in one process, over real
 * loopback sockets and a real temp `.env`, measuring whether anything grows.
 *
 * ```sh
 * deno task soak [--rotations N] [--drops N] [--expire-every K] [--login-every K] \
 *   [--warmup N] [--json]
 * # that is: MALLOC_ARENA_MAX=2 deno run --v8-flags=--expose-gc,--max-semi-space-size=2 \
 * #   --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=ls \
 * #   scripts/soak.ts …  (the runtime settings kitekeeper ships: src/ops/runtime_settings.ts)
 * ```
 *
 * Each iteration does one rotation, then one drop, and every `--expire-every` iterations one
 * expiry. Every step waits on the actor's snapshots (no sleeps) until the daemon is Live on
 * the new generation.
 * - Rotations alternate: even ones write the token into `.env` with the daemon's own writer
 *   (the watcher picks it up); odd ones send `TokenLoaded` straight to the actor, as the login
 *   callback's last step does. Every `--login-every`-th odd one (or, to keep within the login
 *   route's rate limit of 2 a second, the first odd one 550 ms after the previous login) runs
 *   the whole real login instead (`driveLogin`: login redirect, the simulated Kite form, the callback's HMAC state,
 *   the exchange and the `.env` write); it takes a few HTTP round trips more, hence a
 *   fraction. A file rotation always follows a login, so the watcher's late read of the
 *   login's write cannot undo a later direct delivery.
 * - Drops: `POST /_sim/drop`, then Live on a later generation (backoff base 5 ms, cap 50 ms).
 * - Expiries: `POST /_sim/expire` and `/_sim/drop` → Expired; the dead token is sent again
 *   (it must be ignored); a fresh token is written to `.env` → Live. The simulator's rejected
 *   handshakes between the expire and that Live are the handshakes spent on the dead token.
 *
 * Figures, after a full GC when `--v8-flags=--expose-gc` is given: RSS and heap used
 * (`Deno.memoryUsage()`), open file descriptors (`/proc/<pid>/fd`, listed by `ls` because
 * Deno 2 has no `Deno.resources()` and reads that directory only under `--allow-all`), the
 * daemon's pending timers (every timer the daemon's actor, ticker and watcher set goes
 * through the clock it is given; the soak hands it a counting clock), the actor's
 * subscribers, the simulator's open sockets. Samples are taken after a warm-up
 * (`--warmup` iterations, not counted in N: default 5 % of N, at least 20), at quarters, and at
 * the end; when the warm-up is longer than 20 iterations a `cold` sample after the first 20 shows
 * the one-time climb the warm-up absorbs (code tiering up, V8's spaces and malloc's arenas
 * reaching their working size), which the drift goals leave out.
 *
 * Exit code: 0 when the run completed and every goal held, 1 when a goal was missed (the
 * figures are still printed), 2 when the run itself failed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RUNTIME_ENV } from "../src/ops/runtime_settings.ts";
import { type Clock, systemClock, type TimerId } from "../src/clock.ts";
import type { Daemon } from "../src/daemon.ts";
import { writeToken } from "../src/token/env_file.ts";
import { fingerprint } from "../src/token/fingerprint.ts";
import type { Snapshot } from "../src/lifecycle/machine.ts";
import { driveLogin } from "../src/testing/login_driver.ts";
import type { Logger } from "../src/log.ts";
import type { Simulator } from "../src/simulator/simulator.ts";
import { envText, KITE, simControl, startHarness, waitFor } from "../src/testing/daemon_harness.ts";

/** Options of {@linkcode soak}. */
export interface SoakOptions {
  /** Token rotations; default 10 000. */
  readonly rotations?: number;
  /** Drops; default 10 000. */
  readonly drops?: number;
  /** An expiry after every this many iterations; 0 for none. Default 50. */
  readonly expireEvery?: number;
  /** Every this many odd rotations goes through the real login; 0 for none. Default 10. */
  readonly loginEvery?: number;
  /**
   * Iterations (a rotation and a drop each) before the start sample; default 5 % of the
   * iterations, at least {@linkcode COLD_ITERATIONS}.
   */
  readonly warmup?: number;
  /** How long one step may take to reach its state; default 10 000 ms. */
  readonly stepTimeoutMs?: number;
  /** Called with each sample as it is taken (progress). */
  readonly onSample?: (sample: SoakSample) => void;
}

/** Figures at one point of the run. */
export interface SoakSample {
  /** `cold`, `start`, `25%`, `50%`, `75%` or `end`. */
  readonly label: string;
  /** Rotations, drops and expiries done so far (warm-up excluded). */
  readonly rotations: number;
  readonly drops: number;
  readonly expiries: number;
  /** Since the start sample. */
  readonly elapsed_ms: number;
  readonly rss_bytes: number;
  readonly heap_used_bytes: number;
  /** V8's reserved heap, and memory outside it held by JS objects (buffers). */
  readonly heap_total_bytes: number;
  readonly external_bytes: number;
  /** Entries of `/proc/self/fd`; `null` where there is no such directory. */
  readonly open_fds: number | null;
  /** Timers the daemon has set and neither fired nor cleared. */
  readonly pending_timers: number;
  /** The actor's subscribers. */
  readonly listeners: number;
  /** Ticker sockets the simulator holds open. */
  readonly sim_sockets_open: number;
}

/** A goal of the soak and whether the run met it. */
export interface SoakGoal {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What {@linkcode soak} measured. */
export interface SoakReport {
  readonly options: {
    readonly rotations: number;
    readonly drops: number;
    readonly expire_every: number;
    readonly login_every: number;
    readonly warmup: number;
  };
  /** Whether a full GC ran before each sample (`--v8-flags=--expose-gc`). */
  readonly gc: boolean;
  readonly samples: readonly SoakSample[];
  /** After {@linkcode COLD_ITERATIONS} warm-up iterations; none when the warm-up is that short. */
  readonly cold: SoakSample | undefined;
  readonly start: SoakSample;
  readonly end: SoakSample;
  /** Rotations by path. */
  readonly rotations: { readonly file: number; readonly direct: number; readonly login: number };
  readonly drops: number;
  readonly expiries: number;
  readonly handshakes: {
    /** The simulator's counters over the measured part (warm-up excluded). */
    readonly accepted: number;
    readonly rejected: number;
    /** Rejected handshakes between an expire and the next Live, per expiry: the max. */
    readonly per_dead_token_max: number;
    /** The same, summed over every expiry. */
    readonly on_dead_tokens: number;
    /** Rejected handshakes outside expiries (429 "too many sockets" would land here). */
    readonly rejected_other: number;
  };
  /** The daemon's pending timers while Expired (the highest seen): 0 means nothing can fire a handshake. */
  readonly pending_timers_while_expired_max: number;
  /** The daemon's timers over the measured part. */
  readonly timers: { readonly set: number; readonly cleared: number; readonly fired: number };
  /** Sockets the daemon opened (its generation counter) over the measured part. */
  readonly sockets_opened: number;
  /** Daemon log lines by level over the whole run. */
  readonly log: Readonly<Record<string, number>>;
  readonly duration_ms: number;
  readonly goals: readonly SoakGoal[];
}

const MB = 1024 * 1024;
/** File descriptors that may be in flight at a sample (a socket still closing, a pooled connection). */
export const FD_SLACK = 8;
/** The issue's goal for RSS drift, and the bound on heap drift after a GC. */
export const DRIFT_LIMIT_BYTES = 10 * MB;

interface CountingClock {
  readonly clock: Clock;
  counts(): { pending: number; set: number; cleared: number; fired: number };
}

/** The real clock, counting the timers set through it that have neither fired nor been cleared. */
function countingClock(base: Clock): CountingClock {
  const pending = new Set<TimerId>();
  let set = 0;
  let cleared = 0;
  let fired = 0;
  return {
    clock: {
      now: () => base.now(),
      setTimeout(callback, ms) {
        const id = base.setTimeout(function countedTimer() {
          pending.delete(id);
          fired++;
          callback();
        }, ms);
        pending.add(id);
        set++;
        return id;
      },
      clearTimeout(id) {
        if (pending.delete(id)) cleared++;
        base.clearTimeout(id);
      },
    },
    counts: () => ({ pending: pending.size, set, cleared, fired }),
  };
}

/**
 * Entries of `/proc/<pid>/fd`, or `null` where it cannot be read. Deno 2 lets a script read
 * that directory only under `--allow-all`, so without it `ls` (`--allow-run=ls`) lists it; the
 * pipe to `ls` adds the same fd or two to every sample.
 */
async function openFds(): Promise<number | null> {
  const dir = `/proc/${Deno.pid}/fd`;
  try {
    let count = 0;
    for (const _ of Deno.readDirSync(dir)) count++;
    return count;
  } catch {
    // Not permitted (or not Linux): ask ls.
  }
  try {
    const { success, stdout } = await new Deno.Command("ls", {
      args: ["-1", dir],
      stdin: "null",
      stderr: "null",
    }).output();
    if (!success) return null;
    return new TextDecoder().decode(stdout).split("\n").filter((line) => line !== "").length;
  } catch {
    return null;
  }
}

function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  gc(); // A second pass collects what the first one's finalizers released.
  return true;
}

function count(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`Failed to start the soak: ${name} must be a whole number ≥ 0, got ${n}`);
  }
  return n;
}

/**
 * Runs the soak and returns its figures. Starts its own simulator, daemon and temp `.env`,
 * and removes them all before returning (or throwing).
 *
 * @throws {Error} when a step does not reach its state within `stepTimeoutMs`.
 */
export async function soak(options: SoakOptions = {}): Promise<SoakReport> {
  const rotations = count("rotations", options.rotations, 10_000);
  const drops = count("drops", options.drops, 10_000);
  const expireEvery = count("expireEvery", options.expireEvery, 50);
  const loginEvery = count("loginEvery", options.loginEvery, 10);
  const warmup = count(
    "warmup",
    options.warmup,
    Math.max(COLD_ITERATIONS, Math.round(Math.max(rotations, drops) * 0.05)),
  );
  const stepTimeoutMs = options.stepTimeoutMs ?? 10_000;

  const counted = countingClock(systemClock());
  const logCounts: Record<string, number> = {};
  const recent: string[] = [];
  const log: Logger = (level, message) => {
    logCounts[level] = (logCounts[level] ?? 0) + 1;
    recent.push(`${level} ${message}`);
    if (recent.length > 20) recent.shift();
  };
  await using harness = await startHarness({
    tickMs: 100,
    heartbeatMs: 200,
    dirPrefix: "kitekeeper_soak_",
    // The user pin makes every real login check the user the exchange names.
    env: (sim) => envText(sim.url, [`KITE_USER_ID=${KITE.userId}`]),
    // Small backoff so a drop recovers in milliseconds; the stall limit stays far above the
    // heartbeat so a GC pause is not taken for a stall.
    config: { backoffBaseMs: 5, backoffCapMs: 50, stallMs: 3_000 },
    daemon: { version: "soak", log, clock: counted.clock, debounceMs: 5 },
  });
  return await run(harness.daemon, harness.sim, {
    envFile: harness.envFile,
    rotations,
    drops,
    expireEvery,
    loginEvery,
    warmup,
    stepTimeoutMs,
    counted,
    logCounts,
    recent,
    onSample: options.onSample,
  });
}

interface RunContext {
  readonly envFile: string;
  readonly rotations: number;
  readonly drops: number;
  readonly expireEvery: number;
  readonly loginEvery: number;
  readonly warmup: number;
  readonly stepTimeoutMs: number;
  readonly counted: CountingClock;
  readonly logCounts: Record<string, number>;
  readonly recent: string[];
  readonly onSample: ((sample: SoakSample) => void) | undefined;
}

type RotationKind = "file" | "direct" | "login";

/**
 * Warm-up iterations before the `cold` sample. Measured over 10 000 iterations (shipped runtime
 * settings, 2 vCPUs): RSS climbs 12.5–14.6 MB from here to its plateau within the first
 * 500 iterations and then stays (second half +0.0–1.8 MB), so a drift counted from here is
 * mostly that one-time climb, not growth.
 */
export const COLD_ITERATIONS = 20;

/** The least time between two real logins: the login route allows 2 a second past a burst of 30. */
const LOGIN_SPACING_MS = 550;

async function run(daemon: Daemon, sim: Simulator, ctx: RunContext): Promise<SoakReport> {
  const { actor } = daemon;

  /** Resolves with the first snapshot, current or later, that satisfies `predicate`. */
  async function until(what: string, predicate: (s: Snapshot) => boolean): Promise<Snapshot> {
    try {
      return await waitFor(daemon, what, predicate, { timeoutMs: ctx.stepTimeoutMs });
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `Failed to soak: ${reason}; last log lines:\n${ctx.recent.join("\n")}`,
      );
    }
  }

  function liveOn(print: string): (s: Snapshot) => boolean {
    return (s) => s.state.name === "Live" && s.state.fingerprint === print;
  }

  async function writeFresh(): Promise<string> {
    const token = sim.issueAccessToken();
    const print = fingerprint(token);
    await writeToken(ctx.envFile, token);
    return print;
  }

  const done = { file: 0, direct: 0, login: 0 };
  // A login falls due every `loginEvery`-th odd rotation and runs on the first odd one at
  // least LOGIN_SPACING_MS after the previous login: the login route answers 429 past its
  // rate limit, and the soak goes faster than that.
  let loginDue = false;
  let lastLoginAt = -Infinity;
  async function rotate(i: number): Promise<void> {
    if (ctx.loginEvery > 0 && i % (2 * ctx.loginEvery) === 1) loginDue = true;
    const kind: RotationKind = i % 2 === 0
      ? "file"
      : loginDue && performance.now() - lastLoginAt >= LOGIN_SPACING_MS
      ? "login"
      : "direct";
    if (kind === "login") {
      loginDue = false;
      lastLoginAt = performance.now();
    }
    const before = actor.snapshot();
    let print = "";
    if (kind === "file") {
      print = await writeFresh();
    } else if (kind === "direct") {
      // The callback's last step (`deliver` in src/daemon.ts), without its .env write.
      const token = sim.issueAccessToken();
      print = fingerprint(token);
      actor.send({ type: "TokenLoaded", token, fingerprint: print, source: "callback" });
    } else {
      const answer = await driveLogin(daemon.url, KITE);
      if (answer.status !== 302) {
        throw new Error(`Failed to soak: the login callback answered ${answer.status}`);
      }
    }
    // The login's token reaches the actor twice (the callback and the watcher, either first)
    // and is the only new one in play: any new fingerprint is it.
    const arrived = kind === "login"
      ? (s: Snapshot) =>
        s.state.name === "Live" && s.state.gen > before.gen &&
        s.state.fingerprint !== before.token?.fingerprint
      : liveOn(print);
    await until(`Live on the ${kind} rotation's token`, arrived);
    done[kind]++;
  }

  async function drop(): Promise<void> {
    const before = actor.snapshot().gen;
    const { dropped } = await simControl(sim, "drop");
    if (dropped !== 1) throw new Error(`Failed to soak: a drop closed ${dropped} sockets, not 1`);
    await until("Live after a drop", (s) => s.state.name === "Live" && s.state.gen > before);
  }

  let perDeadTokenMax = 0;
  let onDeadTokens = 0;
  let expiredTimersMax = 0;
  async function expire(): Promise<void> {
    const dead = actor.snapshot().token;
    if (dead === null) throw new Error("Failed to soak: no token to expire");
    const rejectedBefore = sim.stats().handshakes.rejected;
    await simControl(sim, "expire");
    await simControl(sim, "drop");
    await until(
      "Expired after expire + drop",
      (s) => s.state.name === "Expired" && s.state.fingerprint === dead.fingerprint,
    );
    expiredTimersMax = Math.max(expiredTimersMax, ctx.counted.counts().pending);
    // A hand edit restoring the dead token: the daemon must not try it again.
    actor.send({
      type: "TokenLoaded",
      token: dead.token,
      fingerprint: dead.fingerprint,
      source: "file",
    });
    await until("Live on a fresh token after an expiry", liveOn(await writeFresh()));
    const spent = sim.stats().handshakes.rejected - rejectedBefore;
    perDeadTokenMax = Math.max(perDeadTokenMax, spent);
    onDeadTokens += spent;
  }

  let rotations = 0;
  let drops = 0;
  let expiries = 0;
  let started = performance.now();
  const samples: SoakSample[] = [];

  // The first token, then the warm-up.
  await until("Live on the first token", liveOn(await writeFresh()));
  for (let i = 0; i < ctx.warmup; i++) {
    if (i === COLD_ITERATIONS) await sample("cold");
    await rotate(i);
    await drop();
  }
  done.file = done.direct = done.login = 0;

  const gc = collectGarbage();
  const startStats = sim.stats();
  const startTimers = ctx.counted.counts();
  const startGen = actor.snapshot().gen;
  started = performance.now();
  async function sample(label: string): Promise<SoakSample> {
    const open_fds = await openFds();
    collectGarbage();
    const memory = Deno.memoryUsage();
    const taken: SoakSample = {
      label,
      rotations,
      drops,
      expiries,
      elapsed_ms: Math.round(performance.now() - started),
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      external_bytes: memory.external,
      open_fds,
      pending_timers: ctx.counted.counts().pending,
      listeners: actor.listenerCount(),
      sim_sockets_open: sim.stats().sockets_open,
    };
    samples.push(taken);
    ctx.onSample?.(taken);
    return taken;
  }

  const start = await sample("start");
  const cold = samples.find((s) => s.label === "cold");
  const iterations = Math.max(ctx.rotations, ctx.drops);
  const quarters = new Map([1, 2, 3].map((q) => [Math.floor(iterations * q / 4), `${q * 25}%`]));
  for (let i = 0; i < iterations; i++) {
    if (i < ctx.rotations) {
      await rotate(i);
      rotations++;
    }
    if (i < ctx.drops) {
      await drop();
      drops++;
    }
    if (ctx.expireEvery > 0 && (i + 1) % ctx.expireEvery === 0) {
      await expire();
      expiries++;
    }
    const label = quarters.get(i + 1);
    if (label !== undefined && i + 1 < iterations) await sample(label);
  }
  const end = await sample("end");
  const duration = performance.now() - started;

  const middle = samples.find((s) => s.label === "50%") ?? start;
  const endStats = sim.stats();
  const endTimers = ctx.counted.counts();
  const accepted = endStats.handshakes.accepted - startStats.handshakes.accepted;
  const rejected = endStats.handshakes.rejected - startStats.handshakes.rejected;
  const fdDrift = start.open_fds === null || end.open_fds === null
    ? null
    : end.open_fds - start.open_fds;
  const goals: SoakGoal[] = [
    {
      name: "open fds flat",
      ok: fdDrift === null || fdDrift <= FD_SLACK,
      detail: fdDrift === null ? "not measured" : `${fdDrift >= 0 ? "+" : ""}${fdDrift}`,
    },
    {
      name: "pending timers flat",
      ok: end.pending_timers === start.pending_timers,
      detail: `${start.pending_timers} → ${end.pending_timers}`,
    },
    {
      name: "listeners flat",
      ok: end.listeners === start.listeners,
      detail: `${start.listeners} → ${end.listeners}`,
    },
    {
      name: "≤ 1 handshake per dead token",
      ok: perDeadTokenMax <= 1,
      detail: `max ${perDeadTokenMax} over ${expiries} expiries`,
    },
    {
      name: "heap drift ≤ 10 MB",
      ok: end.heap_used_bytes - start.heap_used_bytes <= DRIFT_LIMIT_BYTES,
      detail: megabytes(end.heap_used_bytes - start.heap_used_bytes),
    },
    {
      name: "RSS drift ≤ 10 MB",
      ok: end.rss_bytes - start.rss_bytes <= DRIFT_LIMIT_BYTES,
      detail: megabytes(end.rss_bytes - start.rss_bytes),
    },
    {
      // RSS first climbs to a plateau (V8 grows its young generation, malloc its arenas); a
      // leak keeps climbing, so the second half tells the two apart.
      name: "RSS drift over the second half ≤ 10 MB",
      ok: end.rss_bytes - middle.rss_bytes <= DRIFT_LIMIT_BYTES,
      detail: megabytes(end.rss_bytes - middle.rss_bytes),
    },
  ];
  return {
    options: {
      rotations: ctx.rotations,
      drops: ctx.drops,
      expire_every: ctx.expireEvery,
      login_every: ctx.loginEvery,
      warmup: ctx.warmup,
    },
    gc,
    samples,
    cold,
    start,
    end,
    rotations: { ...done },
    drops,
    expiries,
    handshakes: {
      accepted,
      rejected,
      per_dead_token_max: perDeadTokenMax,
      on_dead_tokens: onDeadTokens,
      rejected_other: rejected - onDeadTokens,
    },
    pending_timers_while_expired_max: expiredTimersMax,
    timers: {
      set: endTimers.set - startTimers.set,
      cleared: endTimers.cleared - startTimers.cleared,
      fired: endTimers.fired - startTimers.fired,
    },
    sockets_opened: actor.snapshot().gen - startGen,
    log: { ...ctx.logCounts },
    duration_ms: Math.round(duration),
    goals,
  };
}

function megabytes(bytes: number): string {
  const sign = bytes > 0 ? "+" : "";
  return `${sign}${(bytes / MB).toFixed(1)} MB`;
}

function sampleLine(s: SoakSample): string {
  return [
    s.label.padEnd(5),
    String(s.rotations).padStart(9),
    String(s.drops).padStart(9),
    String(s.expiries).padStart(8),
    `${(s.elapsed_ms / 1000).toFixed(1)} s`.padStart(9),
    `${(s.rss_bytes / MB).toFixed(1)} MB`.padStart(10),
    `${(s.heap_used_bytes / MB).toFixed(1)} MB`.padStart(10),
    `${(s.heap_total_bytes / MB).toFixed(1)} MB`.padStart(10),
    String(s.open_fds ?? "n/a").padStart(5),
    String(s.pending_timers).padStart(7),
    String(s.listeners).padStart(10),
    String(s.sim_sockets_open).padStart(12),
  ].join("  ");
}

const HEADER = [
  "point".padEnd(5),
  "rotations".padStart(9),
  "drops".padStart(9),
  "expiries".padStart(8),
  "elapsed".padStart(9),
  "RSS".padStart(10),
  "heap used".padStart(10),
  "V8 heap".padStart(10),
  "fds".padStart(5),
  "timers".padStart(7),
  "listeners".padStart(10),
  "sim sockets".padStart(12),
].join("  ");

/** The report as a table and a summary, for a terminal. */
export function formatReport(report: SoakReport): string {
  const { handshakes, rotations, start, end } = report;
  return [
    HEADER,
    ...report.samples.map(sampleLine),
    "",
    `rotations: ${rotations.file} via .env, ${rotations.direct} direct, ${rotations.login} via login`,
    `drops: ${report.drops}; expiries: ${report.expiries}; sockets opened: ${report.sockets_opened}`,
    `handshakes: ${handshakes.accepted} accepted, ${handshakes.rejected} rejected ` +
    `(${handshakes.on_dead_tokens} on dead tokens, max ${handshakes.per_dead_token_max} per dead token; ` +
    `${handshakes.rejected_other} other)`,
    `daemon timers: ${report.timers.set} set, ${report.timers.cleared} cleared, ` +
    `${report.timers.fired} fired; pending while Expired: max ${report.pending_timers_while_expired_max}`,
    `RSS drift: ${megabytes(end.rss_bytes - start.rss_bytes)} (V8 heap reserved ` +
    `${megabytes(end.heap_total_bytes - start.heap_total_bytes)}, the rest ` +
    `${
      megabytes(end.rss_bytes - end.heap_total_bytes - start.rss_bytes + start.heap_total_bytes)
    })`,
    ...(report.cold === undefined ? [] : [
      `warm-up climb (${report.options.warmup - COLD_ITERATIONS} iterations, not counted): RSS ${
        megabytes(start.rss_bytes - report.cold.rss_bytes)
      }, V8 heap reserved ${megabytes(start.heap_total_bytes - report.cold.heap_total_bytes)}`,
    ]),
    `log lines: ${Object.entries(report.log).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `duration: ${(report.duration_ms / 1000).toFixed(1)} s${
      report.gc ? "" : " (no GC before samples: run with --v8-flags=--expose-gc)"
    }`,
    "",
    ...report.goals.map((g) => `${g.ok ? "PASS" : "FAIL"}  ${g.name}: ${g.detail}`),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rotations: { type: "string" },
      drops: { type: "string" },
      "expire-every": { type: "string" },
      "login-every": { type: "string" },
      warmup: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const counts: { -readonly [K in keyof SoakOptions]?: number } = {};
  const flags = [
    ["rotations", "rotations"],
    ["drops", "drops"],
    ["expire-every", "expireEvery"],
    ["login-every", "loginEvery"],
    ["warmup", "warmup"],
  ] as const;
  for (const [flag, key] of flags) {
    const text = values[flag];
    if (text !== undefined) counts[key] = text.trim() === "" ? NaN : Number(text);
  }
  // The figures are about the settings kitekeeper ships; deno task soak sets them.
  for (const [name, value] of Object.entries(RUNTIME_ENV)) {
    const now = Deno.env.get(name);
    if (now !== value) {
      console.error(
        `soak: ${name} is ${now ?? "unset"}, kitekeeper ships ${value}: see deno task soak`,
      );
    }
  }
  try {
    const report = await soak({
      ...counts,
      onSample(s) {
        console.error(
          `soak ${s.label}: ${s.rotations} rotations, ${s.drops} drops, ${s.expiries} expiries, ` +
            `${(s.elapsed_ms / 1000).toFixed(1)} s, RSS ${(s.rss_bytes / MB).toFixed(1)} MB, ` +
            `heap ${(s.heap_used_bytes / MB).toFixed(1)} MB, fds ${s.open_fds ?? "n/a"}, ` +
            `timers ${s.pending_timers}, listeners ${s.listeners}`,
        );
      },
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    Deno.exit(report.goals.every((g) => g.ok) ? 0 : 1);
  } catch (error: unknown) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(2);
  }
}
