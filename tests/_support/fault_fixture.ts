/**
 * Setup for the fault matrix: a simulator that can be killed and restarted on its port, a
 * daemon with small timers, a `.env` laid out as the row needs (a file, a symlink, a dead
 * token), and the checks every row ends with: the state reached, the process still serving,
 * nothing lost.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Config } from "../../src/config.ts";
import type { Daemon } from "../../src/daemon.ts";
import { parseEnv } from "../../src/token/env_file.ts";
import { DEFAULT_INSTRUMENTS } from "../../src/kite/instruments.ts";
import { describeError, type Snapshot, type StateName } from "../../src/lifecycle/machine.ts";
import type { Simulator } from "../../src/simulator/simulator.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import {
  envText,
  type Harness,
  KITE,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";

/** What the `.env` holds as KITE_ACCESS_TOKEN when the daemon starts. */
export type StartToken = "live" | "dead" | "none";

/** Options of {@linkcode startFaultHarness}. */
export interface FaultHarnessOptions {
  /** Default `"live"`: a token the simulator accepts. */
  readonly token?: StartToken;
  /** Replaces KITE_TICKER_URL (the simulator's `/ws` by default). */
  readonly tickerUrl?: string;
  /** Puts the `.env` text at `envFile`; default: a plain 0600 file. */
  readonly writeEnv?: (envFile: string, text: string) => Promise<void>;
  /** Over the fault defaults (backoff 20–100 ms, stall 400 ms). */
  readonly config?: Partial<Config>;
  /** The daemon's handshake limit; default 2000 ms (well above a loopback handshake). */
  readonly handshakeTimeoutMs?: number;
  /** The `.env` watcher's quiet time; default the daemon's (50 ms). */
  readonly debounceMs?: number;
}

/** The shared harness, plus the token the `.env` started with. */
export interface FaultHarness extends Harness {
  /** The token the `.env` started with (`""` for `"none"`). */
  readonly startToken: string;
}

/** A dead token: well-formed, never issued. */
export function deadToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => alphabet[b % 62]).join("");
}

function startTokenFor(kind: StartToken, sim: Simulator): string {
  return kind === "live" ? sim.issueAccessToken() : kind === "dead" ? deadToken() : "";
}

/** Starts a simulator and a daemon for one matrix row. */
export async function startFaultHarness(options: FaultHarnessOptions = {}): Promise<FaultHarness> {
  function env(sim: Simulator): string {
    const token = startTokenFor(options.token ?? "live", sim);
    // dotenv keeps the last KITE_TICKER_URL, so an override after the default wins.
    return envText(sim.url, [
      ...(options.tickerUrl === undefined ? [] : [`KITE_TICKER_URL=${options.tickerUrl}`]),
      ...(token === "" ? [] : [`KITE_ACCESS_TOKEN=${token}`]),
    ]);
  }
  const harness = await startHarness({
    dirPrefix: "kitekeeper_fault_",
    env,
    ...(options.writeEnv === undefined ? {} : { writeEnv: options.writeEnv }),
    config: { backoffCapMs: 100, ...options.config },
    daemon: {
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 2_000,
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    },
  });
  const startToken = parseEnv(harness.startText)["KITE_ACCESS_TOKEN"] ?? "";
  return Object.assign(harness, { startToken });
}

/** Prints one measured figure of a matrix row, e.g. `fault matrix | drop | Live again in 41 ms`. */
export function report(row: string, what: string, ms: number): void {
  console.log(`fault matrix | ${row} | ${what} in ${Math.round(ms)} ms`);
}

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return performance.now() - start;
}

/** Waits for `state` and returns the snapshot and how long the wait took. */
export async function reach(
  daemon: Daemon,
  what: string,
  predicate: (snapshot: Snapshot) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<{ snapshot: Snapshot; ms: number }> {
  const start = performance.now();
  const snapshot = await waitFor(daemon, what, predicate, options);
  return { snapshot, ms: since(start) };
}

/** Live on exactly `token`. */
export function liveOn(token: string): (snapshot: Snapshot) => boolean {
  return (s) => s.state.name === "Live" && s.token?.token === token;
}

/** `/livez` answers 200 and `/status` answers JSON naming `state` (200 iff Live, else 503). */
export async function assertServes(daemon: Daemon, state: StateName): Promise<StatusBody> {
  const livez = await fetch(`${daemon.url}/livez`);
  await livez.body?.cancel();
  assert.equal(livez.status, 200, "/livez answers 200 whatever the feed does");
  const response = await fetch(`${daemon.url}/status`);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = await response.json() as StatusBody;
  assert.equal(body.state, state);
  assert.equal(response.status, state === "Live" ? 200 : 503);
  assert.equal(body.pid, Deno.pid, "the same process answers");
  return body;
}

/**
 * Resolves once every default instrument has a tick received after `after` (epoch ms): the
 * subscriptions were replayed on the current socket and data flows for all of them.
 */
export async function ticksResume(daemon: Daemon, after: number): Promise<number> {
  const start = performance.now();
  function fresh(): boolean {
    const { instruments } = daemon.feed.snapshot();
    return DEFAULT_INSTRUMENTS.every((token) => {
      const at = instruments[token]?.at;
      return at !== undefined && Date.parse(at) >= after;
    });
  }
  // Every message changes the snapshot (the socket's last sign of life), so this wakes per tick.
  await waitFor(daemon, "ticks for every instrument", (s) => s.state.name === "Live" && fresh());
  return since(start);
}

/** The access token the `.env` at `envFile` holds now (as dotenv reads it). */
export async function tokenInFile(envFile: string): Promise<string | undefined> {
  return parseEnv(await Deno.readTextFile(envFile))["KITE_ACCESS_TOKEN"];
}

/**
 * Nothing lost: the simulator holds every instrument in the configured mode, ticks arrived
 * for all since `after`, and the `.env` parses to the start values with the daemon's token.
 */
export async function assertNothingLost(h: FaultHarness, after: number): Promise<void> {
  await ticksResume(h.daemon, after);
  const { subscriptions } = h.sim.stats();
  for (const token of DEFAULT_INSTRUMENTS) {
    assert.equal(subscriptions[token], "full", `instrument ${token} is subscribed in full mode`);
  }
  const values = parseEnv(await Deno.readTextFile(h.envFile));
  const expected = parseEnv(h.startText);
  for (const key of Object.keys(expected)) {
    if (key === "KITE_ACCESS_TOKEN") continue;
    assert.equal(values[key], expected[key], `${key} in .env is intact`);
  }
  assert.equal(values["KITE_ACCESS_TOKEN"], h.daemon.actor.snapshot().token?.token);
}

/** Rewrites the token line the way an editor's rename-save does: a temp file, then rename. */
export async function renameSave(envFile: string, token: string): Promise<void> {
  const text = await Deno.readTextFile(envFile);
  const line = `KITE_ACCESS_TOKEN=${token}`;
  const next = /^KITE_ACCESS_TOKEN=.*$/m.test(text)
    ? text.replace(/^KITE_ACCESS_TOKEN=[^\r\n]*/m, line)
    : `${text}${line}\r\n`;
  await Deno.writeTextFile(`${envFile}.swp`, next, { mode: 0o600 });
  await Deno.rename(`${envFile}.swp`, envFile);
}

/**
 * Holds a WebSocket on the simulator until `heartbeats` heartbeats arrive: a stretch of time
 * measured by the simulator itself, not by a sleep. Resolves with its length in ms.
 */
export async function witness(sim: Simulator, heartbeats: number): Promise<number> {
  const start = performance.now();
  const url = new URL(sim.tickerUrl);
  url.searchParams.set("api_key", KITE.apiKey);
  url.searchParams.set("access_token", sim.issueAccessToken());
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const closed = Promise.withResolvers<void>();
  let seen = 0;
  socket.onmessage = (message: MessageEvent) => {
    if (message.data instanceof ArrayBuffer && message.data.byteLength === 1) seen++;
    if (seen === heartbeats) socket.close();
  };
  socket.onerror = () => {};
  socket.onclose = () => closed.resolve();
  await closed.promise;
  assert.equal(seen, heartbeats, "the witness socket saw its heartbeats");
  return since(start);
}

/** The snapshot's last error as `/status` shows it, or `""`. */
export function errorText(snapshot: Snapshot): string {
  return snapshot.lastError === null ? "" : describeError(snapshot.lastError);
}

/** How many upstream sockets the snapshot has open or opening. */
export function socketsOf(snapshot: Snapshot): number {
  return snapshot.shards.filter((shard) => shard.socket !== null).length;
}
