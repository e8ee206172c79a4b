/**
 * `kitekeeper demo`: the Kite simulator and the daemon wired together in one process, on
 * loopback, with a throwaway `.env`. `--auto` plays the user too: it logs in, then every
 * `--cycle-s` seconds kills the day's token and logs in again, so the whole lifecycle
 * (Live → Expired → Live) scrolls by in the log.
 *
 * @module
 */
import { join } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { type Daemon, startDaemon } from "../daemon.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { StateName } from "../lifecycle/machine.ts";
import { hostPortText, httpOrigin } from "../host_port.ts";
import { consoleLogger, type Logger } from "../log.ts";
import { driveLogin } from "../testing/login_driver.ts";
import { envLines, freePort, simulatorEnv } from "../testing/simulator_env.ts";
import { type Simulator, startSimulator } from "../simulator/simulator.ts";
import { listenFlag, parseFlags, stringFlag } from "./parse_flags.ts";
import { loadConfigFrom } from "./run_command.ts";
import { makeDemoDir } from "./demo_dir.ts";
import { untilTerminated } from "./until_terminated.ts";
import { UsageError } from "./usage_error.ts";

/** The simulated Kite account the demo logs in with (printed for the user to type). */
export const DEMO_ACCOUNT = Object.freeze({
  apiKey: "kk_demo",
  userId: "AB1234",
  password: "demo",
});

const FLAGS = {
  auto: { type: "boolean" },
  listen: { type: "string" },
  "cycle-s": { type: "string" },
} as const;

function cycleMs(text: string): number {
  const seconds = Number(text);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new UsageError(`Failed to parse --cycle-s "${text}": expected a number of seconds > 0`);
  }
  return Math.round(seconds * 1000);
}

/** Resolves once `actor` is in `state` (now or later); rejects when `signal` aborts. */
function untilState(actor: Actor, state: StateName, signal: AbortSignal): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  if (signal.aborted) return Promise.reject(signal.reason);
  if (actor.snapshot().state.name === state) return Promise.resolve();
  const unsubscribe = actor.subscribe(function onChange(snapshot) {
    if (snapshot.state.name !== state) return;
    finish();
    resolve();
  });
  function onAbort(): void {
    finish();
    reject(signal.reason);
  }
  function finish(): void {
    unsubscribe();
    signal.removeEventListener("abort", onAbort);
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const id = setTimeout(function elapsed() {
    signal.removeEventListener("abort", onAbort);
    resolve();
  }, ms);
  function onAbort(): void {
    clearTimeout(id);
    reject(signal.reason);
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return promise;
}

async function control(sim: Simulator, path: string): Promise<void> {
  const response = await fetch(`${sim.url}${path}`, { method: "POST" });
  await response.body?.cancel();
  if (!response.ok) {
    throw new Error(`Failed to POST ${path}: the simulator answered ${response.status}`);
  }
}

interface AutoDeps {
  readonly sim: Simulator;
  readonly daemon: Daemon;
  readonly log: Logger;
  readonly cycleMs: number;
  readonly signal: AbortSignal;
}

async function logIn(deps: AutoDeps, why: string): Promise<void> {
  const { daemon, log, signal } = deps;
  log("info", `demo: ${why}: logging in as ${DEMO_ACCOUNT.userId} through ${daemon.loginUrl}`);
  const answer = await driveLogin(daemon.url, DEMO_ACCOUNT);
  if (answer.status !== 302) {
    throw new Error(`Failed to log in: the callback answered ${answer.status}`);
  }
  await untilState(daemon.actor, "Live", signal);
}

/** `--auto`: log in, then forever: wait, kill the token, watch it expire, log in again. */
async function autoCycle(deps: AutoDeps): Promise<void> {
  const { sim, daemon, log, signal } = deps;
  // Let the daemon read the empty .env and ask for a login first, as it would in the morning.
  await untilState(daemon.actor, "Expired", signal);
  await logIn(deps, "the first login of the day");
  for (let cycle = 1;; cycle++) {
    log("info", `demo: Live; the token dies in ${deps.cycleMs / 1000} s (cycle ${cycle})`);
    await delay(deps.cycleMs, signal);
    const before = sim.stats().handshakes.rejected;
    log(
      "info",
      "demo: the token expires now (POST /_sim/expire) and the socket drops (/_sim/drop)",
    );
    await control(sim, "/_sim/expire");
    await control(sim, "/_sim/drop");
    await untilState(daemon.actor, "Expired", signal);
    const rejected = sim.stats().handshakes.rejected - before;
    log(
      "info",
      `demo: Expired after ${rejected} rejected handshake${rejected === 1 ? "" : "s"}; ` +
        "kitekeeper waits for a new token instead of retrying",
    );
    await logIn(deps, "the user opens the login URL");
  }
}

function banner(
  sim: Simulator,
  daemon: Daemon,
  options: { envFile: string; auto: boolean },
): void {
  const lines = [
    "",
    "kitekeeper demo: a local Kite simulator and the kitekeeper daemon, wired together.",
    "",
    `  Kite (simulated)  ${sim.url}   login form, REST, ticker at ${sim.tickerUrl}`,
    `  kitekeeper        ${daemon.url}`,
    `  .env              ${options.envFile}   (deleted on exit)`,
    "",
    `  Log in:    ${daemon.loginUrl}`,
    `             Kite user id ${DEMO_ACCOUNT.userId}, password ${DEMO_ACCOUNT.password}`,
    `  Status:    ${daemon.url}/status   (200 while Live, 503 otherwise)`,
    `  Page:      ${daemon.url}/`,
    "",
    options.auto
      ? "  --auto: the demo logs in by itself, then kills the token every cycle and logs in again."
      : `  Make the day end: curl -X POST ${sim.url}/_sim/expire; curl -X POST ${sim.url}/_sim/drop`,
    "  Ctrl-C stops everything.",
    "",
  ];
  console.log(lines.join("\n"));
}

/**
 * Runs the demo until SIGINT or SIGTERM; returns the exit code (0 after a clean stop, 1 when
 * it could not start).
 *
 * @throws {UsageError} for an unknown or malformed flag.
 */
export async function demoCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  const auto = flags["auto"] === true;
  const cycle = cycleMs(stringFlag(flags, "cycle-s", { fallback: "30" }));
  if (!auto && flags["cycle-s"] !== undefined) throw new UsageError("--cycle-s needs --auto");
  const listen = listenFlag(stringFlag(flags, "listen", { fallback: "127.0.0.1:8000" }));

  const log = consoleLogger();
  // Listening from the start: a listener added just before the banner is not yet bound when a
  // SIGTERM sent as soon as the banner is read arrives (seen: exit 143, no cleanup).
  let onHangup = (): void => {};
  const terminated = untilTerminated(() => onHangup());
  const demoDir = await makeDemoDir();
  for (const path of demoDir.swept) log("info", `Removed ${path}, left by a demo that is gone`);
  const envFile = join(demoDir.path, ".env");
  const cleanups: (() => Promise<unknown>)[] = [() => demoDir.remove()];
  async function cleanUp(): Promise<void> {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => log("error", `Failed to clean up: ${error}`));
    }
  }

  let sim: Simulator;
  let daemon: Daemon;
  try {
    // Known before the daemon starts: the simulator needs its callback URL up front.
    const port = listen.port === 0 ? freePort({ hostname: listen.hostname }) : listen.port;
    const apiSecret = crypto.randomUUID().replaceAll("-", "");
    sim = await startSimulator({
      ...DEMO_ACCOUNT,
      apiSecret,
      redirectUrl: `${httpOrigin(listen.hostname, port)}/api/auth/callback`,
    });
    cleanups.push(() => sim.close());
    await Deno.writeTextFile(
      envFile,
      [
        ...envLines(simulatorEnv(sim.url, { apiKey: DEMO_ACCOUNT.apiKey, apiSecret })),
        `KITE_USER_ID=${DEMO_ACCOUNT.userId}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    // An empty environment: the operator's own KITE_* variables must not leak into the demo.
    const config = await loadConfigFrom(envFile, {
      listen: hostPortText(listen.hostname, port),
      env: {},
    });
    daemon = await startDaemon(config, { version: denoJson.version, log });
    cleanups.push(() => daemon.close());
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    console.error(`Failed to start the demo: ${detail}`);
    if (error instanceof Deno.errors.AddrInUse) {
      const address = `${listen.hostname}:${listen.port}`;
      console.error(`Another program holds ${address}: try --listen 127.0.0.1:0`);
    }
    await cleanUp();
    return 1;
  }

  banner(sim, daemon, { envFile, auto });
  const stopping = new AbortController();
  const cycling = auto
    ? autoCycle({ sim, daemon, log, cycleMs: cycle, signal: stopping.signal }).catch(
      (error: unknown) => {
        if (stopping.signal.aborted) return;
        log("error", `demo: --auto stopped: ${error instanceof Error ? error.message : error}`);
      },
    )
    : Promise.resolve();

  onHangup = () => void daemon.reload();
  const signal = await terminated;
  log("info", `Received ${signal}; shutting down`);
  stopping.abort();
  await cleanUp();
  await cycling;
  return 0;
}
