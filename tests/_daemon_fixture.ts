/**
 * Shared setup for daemon tests: a simulator, a temp `.env` pointing at it, a daemon on a
 * free port, and a way to wait for a lifecycle condition without sleeping.
 *
 * @module
 */
import type { Clock } from "../src/clock.ts";
import { type Config, loadConfig } from "../src/config.ts";
import { type Daemon, startDaemon } from "../src/daemon.ts";
import { parseEnv } from "../src/env_file.ts";
import type { Snapshot } from "../src/lifecycle/machine.ts";
import type { Logger } from "../src/log.ts";
import { type Simulator, startSimulator } from "../src/simulator/simulator.ts";

/** The simulator's Kite credentials. */
export const KITE = Object.freeze({
  apiKey: "kk_test_key",
  apiSecret: "kk_test_secret_0123456789",
  userId: "AB1234",
  password: "correct horse",
});

/** A simulator, a daemon and the `.env` between them; `close()` ends all three. */
export interface Harness extends AsyncDisposable {
  readonly sim: Simulator;
  readonly daemon: Daemon;
  readonly envFile: string;
  readonly dir: string;
  /** Every log line the daemon wrote. */
  readonly lines: string[];
  close(): Promise<void>;
}

/** The `.env` text a harness starts from: CRLF lines, a comment, no token. */
export function envText(simUrl: string, extra: readonly string[] = []): string {
  return [
    "# kitekeeper test .env",
    `KITE_API_KEY=${KITE.apiKey}`,
    `KITE_API_SECRET=${KITE.apiSecret}`,
    `KITE_API_ROOT=${simUrl}`,
    `KITE_LOGIN_URL=${simUrl}/connect/login`,
    `KITE_TICKER_URL=${simUrl.replace("http", "ws")}/ws`,
    ...extra,
    "",
  ].join("\r\n");
}

/** Reserves a free loopback port (the simulator must know the callback URL up front). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts a simulator and a daemon wired together, with fast test timings. */
export async function startHarness(
  options: { extraEnv?: readonly string[]; config?: Partial<Config>; clock?: Clock } = {},
): Promise<Harness> {
  const port = freePort();
  const sim = await startSimulator({
    ...KITE,
    redirectUrl: `http://127.0.0.1:${port}/api/auth/callback`,
    tickMs: 40,
    heartbeatMs: 50,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_e2e_" });
  const envFile = `${dir}/.env`;
  await Deno.writeTextFile(envFile, envText(sim.url, options.extraEnv));
  await Deno.chmod(envFile, 0o600);
  const base = loadConfig(parseEnv(envText(sim.url, options.extraEnv)), {
    env: {},
    envFile,
    listen: `127.0.0.1:${port}`,
  });
  const config: Config = {
    ...base,
    backoffBaseMs: 20,
    backoffCapMs: 200,
    stallMs: 400,
    ...options.config,
  };
  const lines: string[] = [];
  const log: Logger = (level, message) => lines.push(`${level} ${message}`);
  const daemon = await startDaemon(config, {
    version: "test",
    log,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  async function close(): Promise<void> {
    await daemon.close();
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
  return { sim, daemon, envFile, dir, lines, close, [Symbol.asyncDispose]: close };
}

/**
 * Resolves with the first snapshot (current or later) for which `predicate` holds; rejects
 * after `timeoutMs` naming `what`, so a broken daemon fails the test instead of hanging it.
 */
export function waitFor(
  daemon: Daemon,
  what: string,
  predicate: (snapshot: Snapshot) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<Snapshot> {
  const current = daemon.actor.snapshot();
  if (predicate(current)) return Promise.resolve(current);
  const { promise, resolve, reject } = Promise.withResolvers<Snapshot>();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const timer = setTimeout(() => {
    unsubscribe();
    const state = daemon.actor.snapshot().state;
    reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (state ${state.name})`));
  }, timeoutMs);
  const unsubscribe = daemon.actor.subscribe((snapshot) => {
    if (!predicate(snapshot)) return;
    clearTimeout(timer);
    unsubscribe();
    resolve(snapshot);
  });
  return promise;
}

/** True when the feed holds a tick for every one of `tokens`. */
export function hasTicksFor(daemon: Daemon, tokens: readonly number[]): boolean {
  const { instruments } = daemon.feed.snapshot();
  return tokens.every((token) => instruments[token] !== undefined);
}

/** POSTs a `/_sim/*` control. */
export async function simControl(sim: Simulator, path: string): Promise<unknown> {
  const response = await fetch(`${sim.url}/_sim/${path}`, { method: "POST" });
  const body = await response.json();
  if (!response.ok) throw new Error(`Failed to POST /_sim/${path}: ${response.status}`);
  return body;
}

/** The real clock, shifted by a settable offset: time jumps without waiting. */
export function skewedClock(): Clock & { skew: number } {
  return {
    skew: 0,
    now() {
      return Date.now() + this.skew;
    },
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (id) => clearTimeout(id),
  };
}
