/**
 * A simulator and a daemon wired together over loopback, with a temp `.env` between them:
 * the setup the daemon tests, the fault matrix and the soak share. Dev tooling, never imported
 * by `src/`; tests import it from here, and it imports nothing from `tests/`.
 *
 * @module
 */
import { type Config, loadConfig } from "../config.ts";
import { type Daemon, type DaemonOptions, startDaemon } from "../daemon.ts";
import { parseEnv } from "../token/env_file.ts";
import type { Snapshot } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";
import { type Simulator, startSimulator } from "../simulator/simulator.ts";
import { envLines, freePort, simulatorEnv } from "./simulator_env.ts";

/** The simulator's Kite credentials. */
export const KITE = Object.freeze({
  apiKey: "kk_test_key",
  apiSecret: "kk_test_secret_0123456789",
  userId: "AB1234",
  password: "correct horse",
});

/** Options of {@linkcode startHarness}; every default is a fast test timing. */
export interface HarnessOptions {
  /** The simulator's tick period; default 40 ms. */
  readonly tickMs?: number;
  /** The simulator's heartbeat period; default 50 ms. */
  readonly heartbeatMs?: number;
  /** The temp directory's name prefix; default `kitekeeper_e2e_`. */
  readonly dirPrefix?: string;
  /** The `.env` text, given the simulator (to issue a token); default `envText(sim.url)`. */
  readonly env?: (sim: Simulator) => string;
  /** Puts the `.env` text at `envFile`; default: a plain 0600 file. */
  readonly writeEnv?: (envFile: string, text: string) => Promise<void>;
  /** Over the config the `.env` text loads to and the defaults (backoff 20–200 ms, stall 400 ms). */
  readonly config?: Partial<Config>;
  /** Over `{ version: "test" }` and a log into {@linkcode Harness.lines}. */
  readonly daemon?: Partial<DaemonOptions>;
}

/** A simulator, a daemon and the `.env` between them; `close()` ends all of them. */
export interface Harness extends AsyncDisposable {
  /** The current simulator (a new one after {@linkcode Harness.restartSimulator}). */
  readonly sim: Simulator;
  readonly daemon: Daemon;
  readonly envFile: string;
  readonly dir: string;
  /** Every log line the daemon wrote, unless `daemon.log` took them instead. */
  readonly lines: string[];
  /** The `.env` text the daemon started from. */
  readonly startText: string;
  /** Closes the simulator (its sockets with it); resolves once it is down. */
  killSimulator(): Promise<void>;
  /** Starts a fresh simulator (new sessions) on the killed one's port. */
  restartSimulator(): Promise<Simulator>;
  close(): Promise<void>;
}

/** The `.env` text a harness starts from: CRLF lines, a comment, no token. */
export function envText(simUrl: string, extra: readonly string[] = []): string {
  const lines = envLines(simulatorEnv(simUrl, KITE));
  return ["# kitekeeper test .env", ...lines, ...extra, ""].join("\r\n");
}

async function plainFile(envFile: string, text: string): Promise<void> {
  await Deno.writeTextFile(envFile, text);
  await Deno.chmod(envFile, 0o600);
}

/** Starts a simulator and a daemon wired together; on failure, removes what it started. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const port = freePort();
  const simOptions = {
    ...KITE,
    redirectUrl: `http://127.0.0.1:${port}/api/auth/callback`,
    tickMs: options.tickMs ?? 40,
    heartbeatMs: options.heartbeatMs ?? 50,
  };
  let sim = await startSimulator(simOptions);
  const simPort = Number(new URL(sim.url).port);
  let simDown = false;
  const dir = await Deno.makeTempDir({ prefix: options.dirPrefix ?? "kitekeeper_e2e_" });
  async function closeSimulatorAndDir(): Promise<void> {
    try {
      if (!simDown) await sim.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const envFile = `${dir}/.env`;
  const lines: string[] = [];
  let daemon: Daemon;
  let startText: string;
  try {
    startText = (options.env ?? ((s: Simulator) => envText(s.url)))(sim);
    await (options.writeEnv ?? plainFile)(envFile, startText);
    const base = loadConfig(parseEnv(startText), {
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
    const log: Logger = (level, message) => lines.push(`${level} ${message}`);
    daemon = await startDaemon(config, { version: "test", log, ...options.daemon });
  } catch (error: unknown) {
    await closeSimulatorAndDir();
    throw error;
  }
  async function killSimulator(): Promise<void> {
    simDown = true;
    await sim.close();
  }
  async function restartSimulator(): Promise<Simulator> {
    if (!simDown) await killSimulator();
    sim = await startSimulator({ ...simOptions, port: simPort });
    simDown = false;
    return sim;
  }
  async function close(): Promise<void> {
    try {
      await daemon.close();
    } finally {
      await closeSimulatorAndDir();
    }
  }
  return {
    get sim() {
      return sim;
    },
    daemon,
    envFile,
    dir,
    lines,
    startText,
    killSimulator,
    restartSimulator,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Resolves with the first snapshot (current or later) for which `predicate` holds; rejects
 * after `timeoutMs` naming `what`, so a broken daemon fails the caller instead of hanging it.
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

/** POSTs a `/_sim/*` control and returns its JSON answer. */
export async function simControl(sim: Simulator, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}/_sim/${path}`, { method: "POST" });
  const body = await response.json();
  if (!response.ok) throw new Error(`Failed to POST /_sim/${path}: ${response.status}`);
  return body;
}
