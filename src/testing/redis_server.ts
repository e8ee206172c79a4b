/**
 * A real `redis-server` for tests and benchmarks: on a free loopback port, in its own temp
 * directory, without persistence; stoppable and restartable on the same port. Dev tooling,
 * never imported by `src/` outside `testing/`.
 *
 * @module
 */
import { freePort } from "./simulator_env.ts";

/** Where Debian's package puts the server. */
export const REDIS_SERVER = "/usr/bin/redis-server";

/** A running (or stopped, until {@linkcode RedisServer.start}) redis-server. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:port`. */
  readonly url: string;
  /** Kills the server with SIGKILL (an outage, not a shutdown); resolves once it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence); resolves once it answers. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** Whether `redis-server` is installed, so a test can skip saying why when it is not. */
export async function hasRedisServer(): Promise<boolean> {
  try {
    return (await Deno.stat(REDIS_SERVER)).isFile;
  } catch {
    return false;
  }
}

/** Reads `stream` until a line holds `marker`; then keeps draining it so the pipe never fills. */
async function waitForLine(stream: ReadableStream<Uint8Array>, marker: string): Promise<boolean> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    seen = (seen + value).slice(-4096);
    if (seen.includes(marker)) break;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return true;
}

/** Starts `redis-server` on a free loopback port; `password` turns on `requirepass`. */
export async function startRedisServer(
  options: { password?: string } = {},
): Promise<RedisServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_redis_" });
  let child: Deno.ChildProcess | undefined;
  const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;

  async function start(): Promise<void> {
    if (child !== undefined) return;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""];
    args.push("--appendonly", "no", "--daemonize", "no", "--loglevel", "notice");
    if (options.password !== undefined) args.push("--requirepass", options.password);
    const spawned = new Deno.Command(REDIS_SERVER, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    child = spawned;
    // redis-server prints this once it accepts connections (log level notice).
    if (await waitForLine(spawned.stdout, "Ready to accept connections")) return;
    await stop();
    throw new Error(`Failed to start redis-server on port ${port}: it exited`);
  }

  async function stop(): Promise<void> {
    const running = child;
    if (running === undefined) return;
    child = undefined;
    try {
      running.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await running.status;
  }

  async function close(): Promise<void> {
    await stop();
    await Deno.remove(dir, { recursive: true });
  }

  await start();
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    stop,
    start,
    close,
    [Symbol.asyncDispose]: close,
  };
}
