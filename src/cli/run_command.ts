/**
 * `kitekeeper run`: load the configuration, start the daemon, serve until SIGINT/SIGTERM,
 * re-read `.env` on SIGHUP.
 *
 * @module
 */
import { logSafe } from "../log.ts";
import { resolve } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { type Config, ConfigError, envMaxBytesFrom, loadConfig } from "../config.ts";
import { checkEnvFileMode, readEnvFile } from "../token/env_file.ts";
import { envPathProblem } from "../token/env_path.ts";
import { type Daemon, startDaemon } from "../daemon.ts";
import { type Holidays, holidaysWarning, readHolidays } from "../market/holidays_file.ts";
import { startupWarnings } from "../ops/startup_warnings.ts";
import { parseFlags, stringFlag } from "./parse_flags.ts";
import { untilTerminated } from "./until_terminated.ts";

/**
 * Reads `.env` and the environment into a Config; a ConfigError names what is wrong,
 * including a path that is not a regular file the daemon can replace (a pipe, `/dev/fd/N`).
 */
export async function loadConfigFrom(
  envFile: string,
  options: { listen?: string; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<Config> {
  const env = options.env ?? Deno.env.toObject();
  const problem = await envPathProblem(envFile);
  if (problem !== null) throw new ConfigError(`Refusing --env-file ${envFile}: ${problem}`);
  const read = await readEnvFile(envFile, { maxBytes: envMaxBytesFrom(env) });
  if (read.kind === "unreadable") {
    throw new ConfigError(`Failed to read ${envFile}: ${read.detail}`);
  }
  return loadConfig(read.kind === "ok" ? read.values : {}, {
    env,
    envFile,
    ...(options.listen === undefined ? {} : { listen: options.listen }),
  });
}

/** The calendar `KITEKEEPER_HOLIDAYS` names; a ConfigError says why it cannot be used. */
async function readConfiguredHolidays(path: string | null): Promise<Holidays> {
  try {
    return await readHolidays(path);
  } catch (error: unknown) {
    if (!(error instanceof Error)) throw error;
    throw new ConfigError(`Invalid KITEKEEPER_HOLIDAYS: ${error.message}`);
  }
}

/** Runs the daemon until a termination signal; returns the exit code. */
export async function runCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, {
    "env-file": { type: "string" },
    listen: { type: "string" },
  });
  const envFile = resolve(stringFlag(flags, "env-file", { fallback: ".env" }));
  let config: Config;
  let holidays: Holidays;
  try {
    const listen = flags["listen"];
    config = await loadConfigFrom(envFile, typeof listen === "string" ? { listen } : {});
    holidays = await readConfiguredHolidays(config.holidaysFile);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(logSafe(error.message));
    return 2;
  }
  for (const warning of config.warnings) console.error(`warning: ${logSafe(warning)}`);
  const calendarWarning = holidaysWarning(holidays, { now: Date.now() });
  if (calendarWarning !== null) console.error(`warning: ${logSafe(calendarWarning)}`);
  for (const warning of startupWarnings(config)) console.error(`warning: ${logSafe(warning)}`);
  const modeWarning = await checkEnvFileMode(envFile);
  if (modeWarning !== null) console.error(`warning: ${logSafe(modeWarning)}`);

  // Listening before the daemon starts: a listener added after the "listening" line is not yet
  // bound when a SIGTERM sent as soon as that line is read arrives.
  let onHangup = (): void => {};
  const terminated = untilTerminated(() => onHangup());
  let daemon: Daemon;
  try {
    daemon = await startDaemon(config, { version: denoJson.version, holidays: holidays.dates });
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error; // E.g. a Redis that cannot be used.
    console.error(logSafe(error.message));
    return 2;
  }
  onHangup = () => void daemon.reload();
  console.log(`kitekeeper listening on ${daemon.url}`);
  const signal = await terminated;
  console.log(`Received ${signal}; shutting down`);
  await daemon.close();
  return 0;
}
