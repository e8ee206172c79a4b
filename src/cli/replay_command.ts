/**
 * `kitekeeper replay --journal DIR --date YYYY-MM-DD [--from HH:MM] [--to HH:MM]
 * [--speed N|max] --listen HOST:PORT [--env-file PATH]`: serves a journal day on the
 * Kite-compatible `/ws` endpoint, so a program can be tested against a real session on a
 * holiday. Credentials as the daemon's: `KITE_API_KEY` with one of `KITEKEEPER_CLIENT_TOKENS`
 * or the `.env`'s access token, from the environment or `--env-file`.
 *
 * @module
 */
import { resolve } from "node:path";
import { systemClock } from "../clock.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { credentialCheck } from "../endpoint/credentials.ts";
import { createEndpoint } from "../endpoint/endpoint.ts";
import { istInstant, journalDayPath } from "../journal/journal_day.ts";
import { describeEnd } from "../journal/reader.ts";
import { playJournal, type ReplaySpeed } from "../journal/replay.ts";
import { replayLifecycle } from "../journal/replay_lifecycle.ts";
import { consoleLogger } from "../log.ts";
import { readEnvFile } from "../token/env_file.ts";
import { readToken } from "../token/read_token.ts";
import { listenFlag, parseFlags, stringFlag } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";

const FLAGS = {
  journal: { type: "string" },
  date: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  speed: { type: "string" },
  listen: { type: "string" },
  "env-file": { type: "string" },
} as const;

/** Quiet time after a client's last request before playing starts. */
const SETTLE_MS = 250;

function speedFlag(text: string): ReplaySpeed {
  if (text === "max") return "max";
  const speed = Number(text);
  if (!(speed > 0 && speed <= 10_000)) {
    throw new UsageError(`Failed to parse --speed "${text}": expected a number > 0 or max`);
  }
  return speed;
}

function timeFlag(date: string, name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = istInstant(date, text);
  if (Number.isNaN(at)) throw new UsageError(`Failed to parse --${name} "${text}": expected HH:MM`);
  return at;
}

/** The endpoint's credential rule and limits, from the environment and maybe a `.env`. */
async function credentialsFrom(envFile: string | undefined) {
  let values: Record<string, string> = {};
  if (envFile !== undefined) {
    const read = await readEnvFile(envFile);
    if (read.kind !== "ok") {
      throw new ConfigError(
        `Failed to read ${envFile}: ${read.kind === "missing" ? "no such file" : read.detail}`,
      );
    }
    values = read.values;
  }
  const config = loadConfig(values, {
    env: Deno.env.toObject(),
    envFile: envFile ?? "the environment (no --env-file)",
  });
  const read = readToken(values, config.tokenPattern);
  const token = read.kind === "valid" ? read.token : null;
  if (config.clientTokens.length === 0 && token === null) {
    throw new ConfigError(
      "No credential to accept: set KITEKEEPER_CLIENT_TOKENS, or give an --env-file with an access token",
    );
  }
  return { config, token };
}

function clock(us: number | null): string {
  return us === null ? "-" : new Date(us / 1000).toISOString();
}

/**
 * Runs `replay`; prints `replay ready http://HOST:PORT` once listening, plays the day when the
 * first client subscribes, and serves until SIGINT or SIGTERM. 1 when the day is not there, 2
 * for bad flags or settings.
 *
 * @throws {UsageError} for an unknown, missing or malformed flag.
 */
export async function replayCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  const dir = stringFlag(flags, "journal");
  const date = stringFlag(flags, "date");
  const listen = listenFlag(stringFlag(flags, "listen"));
  const speed = speedFlag(stringFlag(flags, "speed", { fallback: "1" }));
  const from = timeFlag(date, "from", flags.from as string | undefined);
  const to = timeFlag(date, "to", flags.to as string | undefined);
  const envFlag = flags["env-file"];
  let credentials;
  try {
    credentials = await credentialsFrom(typeof envFlag === "string" ? resolve(envFlag) : undefined);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const found = await journalDayPath(dir, date);
  if (found.kind !== "found") {
    console.error(`Failed to replay: ${found.detail}`);
    return 1;
  }

  const log = consoleLogger();
  const lifecycle = replayLifecycle(Date.now());
  const started = Promise.withResolvers<void>();
  // Playing starts once the first client's requests have settled: a Kite client sends
  // `subscribe`, then `mode`, and each may come as its own change of plan.
  let settling: ReturnType<typeof setTimeout> | undefined;
  function planChanged(): void {
    clearTimeout(settling);
    settling = setTimeout(() => started.resolve(), SETTLE_MS);
  }
  const endpoint = createEndpoint({
    credentials: credentialCheck({
      apiKey: credentials.config.apiKey,
      clientTokens: credentials.config.clientTokens,
      currentToken: () => credentials.token,
    }),
    base: new Map(),
    onPlan: planChanged,
    lifecycle,
    clock: systemClock(),
    log,
    limits: { maxClients: credentials.config.maxClients },
  });
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen: (addr) => listening.resolve(addr),
  }, (request) => {
    if (new URL(request.url).pathname === "/ws") return endpoint.upgrade(request);
    return new Response("Not found: this is a kitekeeper replay; its ticker is /ws\n", {
      status: 404,
    });
  });
  const addr = await listening.promise;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  console.log(`replay ready http://${host}:${addr.port}`);

  const stop = new AbortController();
  const stopped = Promise.withResolvers<Deno.Signal>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => {
      clearTimeout(settling);
      stop.abort();
      started.resolve();
      stopped.resolve(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const playing = playJournal(found.path, {
    endpoint,
    lifecycle,
    speed,
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    start: started.promise,
    signal: stop.signal,
  }).then((report) => {
    const where = describeEnd(found.path, report.end);
    if (where !== null) console.error(`Warning: replayed what is valid; ${where}`);
    console.error(
      `replay finished: ${report.messages} messages, ${clock(report.firstUs)} to ${
        clock(report.lastUs)
      }`,
    );
  });
  const signal = await stopped.promise;
  for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  await playing;
  await endpoint.close();
  await server.shutdown();
  console.error(`replay stopped (${signal})`);
  return 0;
}
