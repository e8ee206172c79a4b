/**
 * Benchmark: how fast kitekeeper recovers from a token rotation. The daemon runs as its own
 * process against the simulator; a `/stream` subscriber (in this process) waits for the
 * first tick after each rotation:
 * - by `.env` write: from the start of `writeToken()` (its fsyncs included: the token is
 *   in place at the rename) to the first tick;
 * - by callback: from the moment the browser follows Kite's redirect to the callback (where
 *   a user who submitted Kite's form starts waiting for kitekeeper: the request_token
 *   exchange, the hand-over, the new socket) to the first tick. The whole login, from
 *   `/api/auth/login` through the simulated Kite form, is in the details as `login_ms`.
 *
 * Floor, in the same run: a bare WebSocket handshake, subscribe and first tick against the
 * simulator. The simulator sends ticks only on subscribe (its tick timer is an hour), so any
 * tick after a rotation comes from the new socket.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-run=deno,cat \
 *   scripts/bench_recovery.ts [--rotations N]
 * ```
 *
 * @module
 */
import { writeToken } from "../src/token/env_file.ts";
import { decode } from "../src/kite/packets.ts";
import { DEFAULT_INSTRUMENTS } from "../src/kite/instruments.ts";
import { driveLogin } from "../src/testing/login_driver.ts";
import {
  freePort,
  KITE,
  startBenchSimulator,
  startDaemonChild,
  untilLive,
} from "./_bench_process.ts";
import {
  type BenchResult,
  delay,
  epochMs,
  type Figure,
  figure,
  round,
  summarize,
  type Summary,
} from "./_bench_stats.ts";
import { runBench } from "./_bench_cli.ts";

/** Time between logins: the login route refills a peer's bucket at 2 a second. */
const LOGIN_SPACING_MS = 550;

/** Options of {@linkcode benchRecovery}. */
export interface RecoveryOptions {
  /** Where to write a V8 CPU profile of the daemon (`--cpu-prof-dir`); none by default. */
  readonly profileDir?: string;
  /** Rotations by each path, and floor samples; default 100. */
  readonly rotations?: number;
  /** Quiet time after each rotation, so the next starts from a settled daemon; default 100 ms. */
  readonly settleMs?: number;
  /** Progress lines go here. */
  readonly log?: (line: string) => void;
}

const STEP_TIMEOUT_MS = 10_000;

/** A `/stream` subscriber that tells when a tick the daemon received after a moment arrives. */
interface TickStream {
  /**
   * Resolves with the arrival time (epoch ms) of the first tick event the daemon received
   * at or after `since` (its `at`; the ticks of an earlier rotation can still be on the way).
   */
  nextTick(since: number): Promise<number>;
  close(): Promise<void>;
}

/** The daemon's receive times (`at`, epoch ms) of the tick events in complete SSE blocks. */
function tickTimes(blocks: readonly string[]): number[] {
  const times: number[] = [];
  for (const block of blocks) {
    if (!block.startsWith("event: tick\n")) continue;
    const data = block.slice(block.indexOf("data: ") + 6);
    times.push(Date.parse((JSON.parse(data) as { at: string }).at));
  }
  return times;
}

async function openTickStream(url: string): Promise<TickStream> {
  const response = await fetch(url);
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new Error(`Failed to open ${url}: ${response.status}`);
  }
  // Cancelling the reader ends a read that waits (an abort signal does not, on an idle stream).
  const reader = response.body.getReader();
  const waiters = new Map<(at: number) => void, number>();
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      const arrived = epochMs();
      buffer += decoder.decode(read.value, { stream: true });
      const blocks = buffer.split("\n\n");
      buffer = blocks.pop() ?? "";
      const latest = Math.max(...tickTimes(blocks));
      for (const [waiter, since] of [...waiters]) {
        // `at` is whole milliseconds: compare with the moment rounded down the same way.
        if (latest < Math.floor(since)) continue;
        waiters.delete(waiter);
        waiter(arrived);
      }
    }
  })().catch(() => {});
  return {
    nextTick(since) {
      return new Promise((resolve) => waiters.set(resolve, since));
    },
    async close() {
      await reader.cancel();
      await reading;
    },
  };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${STEP_TIMEOUT_MS} ms waiting for ${what}`)),
      STEP_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A bare client: handshake, subscribe, mode full, first tick; returns the ms it took. */
async function bareFirstTick(url: string, tokens: readonly number[]): Promise<number> {
  const started = epochMs();
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const first = Promise.withResolvers<number>();
  const closed = Promise.withResolvers<void>();
  socket.onopen = () => {
    socket.send(JSON.stringify({ a: "subscribe", v: tokens }));
    socket.send(JSON.stringify({ a: "mode", v: ["full", tokens] }));
  };
  socket.onmessage = (event) => {
    const data = event.data;
    if (!(data instanceof ArrayBuffer) || data.byteLength <= 1) return;
    const at = epochMs();
    const decoded = decode(data);
    if (decoded.kind === "ticks" && decoded.ticks.length > 0) first.resolve(at);
  };
  socket.onerror = () => first.reject(new Error("Failed to open the bare ticker socket"));
  socket.onclose = () => closed.resolve();
  try {
    return await within(first.promise, "the bare client's first tick") - started;
  } finally {
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(1000);
    }
    await closed.promise;
  }
}

function recoveryFigures(
  path: "env" | "callback",
  summary: Summary,
  floor: Summary,
  goalMs: number,
): Figure[] {
  const label = path === "env" ? "by .env write" : "by callback";
  const stats = ["p50", "p90", "p99", "max"] as const;
  return stats.map((stat) =>
    figure({
      key: `recovery.${path}.${stat}_ms`,
      benchmark: "recovery",
      name: `rotation → first /stream tick, ${stat} ${label}`,
      unit: "ms",
      value: round(summary[stat]),
      baseline: { name: `bare handshake + subscribe + tick, ${stat}`, value: round(floor[stat]) },
    }, stat === "p99" ? { text: `≤ ${goalMs} ms`, met: (value) => value <= goalMs } : undefined)
  );
}

/**
 * Rotates the token `rotations` times by `.env` write and as many times by the login
 * callback, interleaved with as many floor samples, and reports the percentiles of each.
 */
export async function benchRecovery(options: RecoveryOptions = {}): Promise<BenchResult> {
  const rotations = options.rotations ?? 100;
  const settleMs = options.settleMs ?? 100;
  const log = options.log ?? (() => {});
  const port = freePort();
  await using sim = await startBenchSimulator({
    redirectUrl: `http://127.0.0.1:${port}/api/auth/callback`,
    tickMs: 3_600_000,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_" });
  // This process's first writeToken() loads and compiles the writer (~12 ms): that is the
  // bench's start-up, not the daemon's recovery, so it happens once on a scratch file.
  await writeToken(`${dir}/scratch.env`, "warmup");
  await Deno.remove(`${dir}/scratch.env`);
  const env: number[] = [];
  const callback: number[] = [];
  const login: number[] = [];
  const floor: number[] = [];
  try {
    await using daemon = await startDaemonChild(sim, {
      dir,
      accessToken: sim.issueAccessToken(),
      instruments: DEFAULT_INSTRUMENTS,
      listen: `127.0.0.1:${port}`,
      ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    });
    await untilLive(daemon.url);
    const stream = await openTickStream(`${daemon.url}/stream`);
    const floorToken = sim.issueAccessToken();
    const floorUrl = `${sim.tickerUrl}?api_key=${KITE.apiKey}&access_token=${floorToken}`;
    try {
      let lastLogin = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < rotations; i++) {
        const token = sim.issueAccessToken();
        let started = epochMs();
        let tick = stream.nextTick(started);
        await writeToken(daemon.envFile, token);
        env.push(await within(tick, `the first tick after .env rotation ${i + 1}`) - started);
        await delay(settleMs);

        // GET /api/auth/login allows a peer 2 a second past a burst of 30: keep under it.
        await delay(Math.max(0, lastLogin + LOGIN_SPACING_MS - epochMs()));
        started = epochMs();
        lastLogin = started;
        tick = stream.nextTick(started);
        let callbackAt = Number.NaN;
        const answer = await driveLogin(daemon.url, KITE, {
          beforeCallback: () => callbackAt = epochMs(),
        });
        if (answer.status !== 302) {
          throw new Error(`Failed to log in: the callback answered ${answer.status}`);
        }
        const arrived = await within(tick, `the first tick after login ${i + 1}`);
        callback.push(arrived - callbackAt);
        login.push(arrived - started);
        await delay(settleMs);

        floor.push(await bareFirstTick(floorUrl, DEFAULT_INSTRUMENTS));
        if ((i + 1) % 25 === 0) log(`recovery: ${i + 1}/${rotations} rotations each way`);
      }
    } finally {
      await stream.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const byEnv = summarize(env);
  const byCallback = summarize(callback);
  const byLogin = summarize(login);
  const byFloor = summarize(floor);
  return {
    figures: [
      ...recoveryFigures("env", byEnv, byFloor, 25),
      ...recoveryFigures("callback", byCallback, byFloor, 25),
    ],
    details: {
      rotations,
      settle_ms: settleMs,
      instruments: DEFAULT_INSTRUMENTS.length,
      env_ms: byEnv,
      callback_ms: byCallback,
      login_ms: byLogin,
      floor_ms: byFloor,
      samples_ms: {
        env: env.map((v) => round(v)),
        callback: callback.map((v) => round(v)),
        login: login.map((v) => round(v)),
        floor: floor.map((v) => round(v)),
      },
    },
  };
}

if (import.meta.main) {
  await runBench(benchRecovery, [
    { flag: "rotations", option: "rotations" },
    { flag: "profile", option: "profileDir", text: true },
  ]);
}
