/**
 * The daemon's configuration: the parsed `.env` values and the environment in, a frozen
 * {@linkcode Config} out. Pure: reading the file and the environment is the caller's job.
 *
 * The environment wins over the file for every key but the access token, which rotates and
 * is only ever read from the file ({@linkcode readToken}); `--listen` wins over both.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { dialHost, type HostPort, httpOrigin, parseHostPort } from "./host_port.ts";
import { formatTimeOfDay, parseTimeOfDay, type TimeOfDay } from "./market/ist_time.ts";
import type { LifecycleOptions } from "./lifecycle/machine.ts";
import type { Mode } from "./kite/packets.ts";
import { DEFAULT_INSTRUMENTS } from "./kite/instruments.ts";
import { DEFAULT_ENV_MAX_BYTES } from "./token/env_path.ts";

/** Bad or missing configuration; the CLI prints the (single-line) message and exits 2. */
export class ConfigError extends Error {
  /** Builds the error; `message` names the variable and where to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The message formats `KITEKEEPER_NOTIFY_FORMAT` takes. */
export type NotifyFormat = "json" | "ntfy" | "telegram" | "slack";

/** Where notifications go (`KITEKEEPER_NOTIFY_URL`) and how they are shaped. */
export type NotifyTarget =
  | { readonly format: "json" | "ntfy" | "slack"; readonly url: string }
  /** `url` is `https://api.telegram.org/bot<token>/sendMessage`. */
  | { readonly format: "telegram"; readonly url: string; readonly chatId: string };

/** Everything the daemon needs that does not change while it runs (the token does). */
export interface Config {
  /** The `.env` path, as given. */
  readonly envFile: string;
  readonly apiKey: string;
  /** Secret: never log it. */
  readonly apiSecret: string;
  /** When set, a token that belongs to another Kite user is refused. */
  readonly userId?: string;
  /** Secret: when set, every route but `/livez` and the login pair needs it as a bearer. */
  readonly adminToken?: string;
  /** REST root without a trailing slash, e.g. `https://api.kite.trade`. */
  readonly apiRoot: string;
  readonly loginUrl: string;
  readonly tickerUrl: string;
  readonly listen: { readonly hostname: string; readonly port: number };
  /**
   * The origin (maybe with a path prefix, no trailing slash) a browser uses to reach us; the
   * login callback is built on it. When not configured it is derived from `listen`, with a
   * wildcard host shown as loopback; with port 0 the caller should derive it from the
   * bound port instead.
   */
  readonly publicUrl: string;
  /** Instrument tokens to subscribe, deduplicated, in the order given. */
  readonly instruments: readonly number[];
  readonly mode: Mode;
  /** When Kite is expected to expire the day's token, IST (UTC+05:30, no DST). */
  readonly tokenExpiry: TimeOfDay;
  /** `KITEKEEPER_TOKEN_RECHECK`: a second daily probe of the token, IST (users see flushes near 07:30). */
  readonly tokenRecheck: TimeOfDay;
  /** `KITEKEEPER_PROBE_INTERVAL_MS`: how often to probe the token while NSE is in pre-open or open. */
  readonly probeIntervalMs: number;
  /** `KITEKEEPER_REMIND_AT`: login reminder times, IST, on trading days; `none` for none. */
  readonly remindAt: readonly TimeOfDay[];
  /** What a well-formed access token looks like. */
  readonly tokenPattern: RegExp;
  /** `KITEKEEPER_ENV_MAX_BYTES`: a larger `.env` is refused, never read whole (default 1 MiB). */
  readonly envMaxBytes: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  /** No data (ticks or heartbeats) for this long means the socket is stalled. */
  readonly stallMs: number;
  /** Where login reminders go (`KITEKEEPER_NOTIFY_*`); the URL is a secret: log its origin. */
  readonly notify?: NotifyTarget;
  /**
   * `KITEKEEPER_HOLIDAYS`: the trading-holidays file (a relative path is taken from the
   * `.env`'s directory), or `null` for the built-in NSE 2026 list; `readHolidays` reads it.
   */
  readonly holidaysFile: string | null;
  /** Warn when Live without ticks this long while NSE is open; `null` never warns. */
  readonly noTicksWarnMs: number | null;
  /**
   * Secrets (`KITEKEEPER_CLIENT_TOKENS`): access tokens local programs may present on `/ws`
   * besides the current Kite token; constant across days.
   */
  readonly clientTokens: readonly string[];
  /** `KITEKEEPER_MAX_CLIENTS`: connections `/ws` serves at once. */
  readonly maxClients: number;
  /**
   * `KITEKEEPER_JOURNAL_DIR` (a relative path is taken from the `.env`'s directory) and
   * `KITEKEEPER_JOURNAL_KEEP_DAYS` (`null`: keep every day); `null` when not journaling.
   */
  readonly journal: { readonly dir: string; readonly keepDays: number | null } | null;
  /**
   * Two machines, one feed (`KITEKEEPER_REDIS_URL`, `KITEKEEPER_CLUSTER`,
   * `KITEKEEPER_LEASE_MS`); `null` without a Redis URL, and then no cluster code loads.
   */
  readonly cluster: ClusterConfig | null;
  /** Things worth telling the operator that do not stop the daemon. */
  readonly warnings: readonly string[];
}

/** A node's cluster settings. */
export interface ClusterConfig {
  /** Secret (it may hold Redis's password): log `redactRedisUrl(redisUrl)` only. */
  readonly redisUrl: string;
  /** The cluster's name; `null`: the api_key's fingerprint. */
  readonly name: string | null;
  /** The feed lease's time to live: a standby takes over within it plus a second. */
  readonly leaseMs: number;
}

/** What a cluster name (`KITEKEEPER_CLUSTER`) may be: it goes into Redis key names. */
export const CLUSTER_NAME: RegExp = /^[A-Za-z0-9_.-]{1,64}$/;

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** The process environment (e.g. `Deno.env.toObject()`). */
  env: Readonly<Record<string, string | undefined>>;
  /** The `.env` path, for messages (pass it absolute so the operator knows which file). */
  envFile: string;
  /** The `--listen` flag, which wins over `KITEKEEPER_LISTEN`. */
  listen?: string;
}

interface Found {
  readonly name: string;
  readonly value: string;
  /** For messages: "in the environment", "in /path/.env", "from --listen". */
  readonly where: string;
}

const DEFAULTS = {
  KITE_API_ROOT: "https://api.kite.trade",
  KITE_LOGIN_URL: "https://kite.zerodha.com/connect/login",
  KITE_TICKER_URL: "wss://ws.kite.trade",
  KITEKEEPER_LISTEN: "127.0.0.1:8000",
  KITEKEEPER_INSTRUMENTS: DEFAULT_INSTRUMENTS.join(","),
  KITEKEEPER_MODE: "full",
  KITEKEEPER_TOKEN_EXPIRY: "06:00",
  KITEKEEPER_TOKEN_RECHECK: "07:35",
  KITEKEEPER_PROBE_INTERVAL_MS: "900000",
  KITEKEEPER_REMIND_AT: "08:30,08:50",
  KITEKEEPER_TOKEN_PATTERN: "^[A-Za-z0-9]{32}$",
  KITEKEEPER_BACKOFF_BASE_MS: "250",
  KITEKEEPER_BACKOFF_CAP_MS: "30000",
  KITEKEEPER_STALL_MS: "5000",
  KITEKEEPER_NO_TICKS_WARN_MIN: "5",
  KITEKEEPER_MAX_CLIENTS: "64",
  KITEKEEPER_ENV_MAX_BYTES: String(DEFAULT_ENV_MAX_BYTES),
} as const;

/** The seed setup's names, still accepted. */
const ALIASES: Readonly<Record<string, string>> = {
  KITE_API_KEY: "ZERODHA_API_KEY",
  KITE_API_SECRET: "ZERODHA_API_SECRET",
};

const MODES: readonly Mode[] = ["ltp", "quote", "full"];
const MAX_INSTRUMENTS = 3000;
const MAX_INSTRUMENT_TOKEN = 0xffffffff;

function invalid(found: Found, detail: string): ConfigError {
  return new ConfigError(`Invalid ${found.name} ${found.where}: ${detail}`);
}

function parseListen(found: Found): HostPort {
  const listen = parseHostPort(found.value);
  if (listen === null) throw invalid(found, `"${found.value}" is not HOST:PORT`);
  return listen;
}

function derivedPublicUrl(listen: HostPort): string {
  // A browser cannot be sent to a wildcard address; loopback is where it reaches us.
  return httpOrigin(dialHost(listen.hostname), listen.port);
}

function parseUrl(found: Found, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(found.value);
  } catch {
    throw invalid(found, `not a URL (expected ${protocols.join(" or ")})`);
  }
  if (!protocols.includes(url.protocol)) {
    throw invalid(found, `expected a ${protocols.join(" or ")} URL, got ${url.protocol}`);
  }
  return found.value;
}

function parseInstruments(found: Found): number[] {
  const parts = found.value.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (parts.length === 0) throw invalid(found, "no instrument tokens");
  const tokens: number[] = [];
  for (const part of parts) {
    const token = /^\d+$/.test(part) ? Number(part) : NaN;
    if (!(token > 0 && token <= MAX_INSTRUMENT_TOKEN)) {
      throw invalid(found, `"${part}" is not an instrument token (a positive integer)`);
    }
    if (!tokens.includes(token)) tokens.push(token);
  }
  if (tokens.length > MAX_INSTRUMENTS) {
    throw invalid(found, `${tokens.length} instruments; Kite allows ${MAX_INSTRUMENTS} a socket`);
  }
  return tokens;
}

function parseMode(found: Found): Mode {
  const mode = MODES.find((candidate) => candidate === found.value.trim().toLowerCase());
  if (mode === undefined) throw invalid(found, `"${found.value}" is not ltp, quote or full`);
  return mode;
}

function parseClock(found: Found): TimeOfDay {
  try {
    return parseTimeOfDay(found.value);
  } catch {
    throw invalid(found, `"${found.value}" is not a 24-hour HH:MM time`);
  }
}

/** A comma-separated list of `HH:MM` times, sorted and deduplicated; `none` for none. */
function parseClocks(found: Found): { hour: number; minute: number }[] {
  if (found.value.trim().toLowerCase() === "none") return [];
  const parts = found.value.split(",").map((part) => part.trim()).filter((part) => part !== "");
  const times = parts.map((part) => parseClock({ ...found, value: part }));
  const unique = new Map(times.map((time) => [time.hour * 60 + time.minute, time]));
  return [...unique.entries()].sort(([a], [b]) => a - b).map(([, time]) => time);
}

function parsePattern(found: Found): RegExp {
  try {
    return new RegExp(found.value);
  } catch (error: unknown) {
    throw invalid(found, error instanceof Error ? error.message : String(error));
  }
}

function parseMilliseconds(found: Found): number {
  const value = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
  if (!(value >= 1 && Number.isSafeInteger(value))) {
    throw invalid(found, `"${found.value}" is not a positive whole number of milliseconds`);
  }
  return value;
}

function parseCluster(lookup: (name: string) => Found | undefined): ClusterConfig | null {
  const url = lookup("KITEKEEPER_REDIS_URL");
  if (url === undefined || url.value.trim() === "") return null;
  const redisUrl = parseUrl({ ...url, value: url.value.trim() }, ["redis:", "rediss:"]);
  const nameFound = lookup("KITEKEEPER_CLUSTER");
  const name = nameFound?.value.trim() || null;
  if (nameFound !== undefined && name !== null && !CLUSTER_NAME.test(name)) {
    throw invalid(nameFound, "use 1-64 letters, digits, '.', '_' or '-'");
  }
  const leaseFound = lookup("KITEKEEPER_LEASE_MS") ??
    { name: "KITEKEEPER_LEASE_MS", value: "5000", where: "(the default)" };
  const leaseMs = parseMilliseconds(leaseFound);
  if (leaseMs < 300) throw invalid(leaseFound, `${leaseMs} ms is below 300`);
  return { redisUrl, name, leaseMs };
}

function parseAdminToken(found: Found | undefined): string | undefined {
  if (found === undefined) return undefined;
  // A guessable token on a login reachable from the internet is worse than none: refuse it.
  const token = found.value.trim();
  if (token.length < 16 || /\s/.test(token)) {
    throw invalid(found, `${token.length} characters; use 16 or more without spaces`);
  }
  // What a bearer credential may hold (RFC 6750 b64token), or no request could present it.
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw invalid(found, "use only letters, digits and . _ ~ + / - (then any = signs)");
  }
  return token;
}

/** Client credentials: comma-separated, each as hard to guess as the admin token. */
function parseClientTokens(found: Found | undefined): string[] {
  if (found === undefined) return [];
  const tokens = found.value.split(",").map((part) => part.trim()).filter((part) => part !== "");
  tokens.forEach((token, i) => {
    if (token.length < 16 || /\s/.test(token)) {
      // Never quote the value: it is a secret, even when it is a bad one.
      throw invalid(found, `credential ${i + 1} is ${token.length} characters; use 16 or more`);
    }
  });
  return [...new Set(tokens)];
}

function parseMaxClients(found: Found): number {
  const value = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
  if (!(value >= 1 && value <= 10_000)) {
    throw invalid(found, `"${found.value}" is not a whole number from 1 to 10000`);
  }
  return value;
}

const NOTIFY_FORMATS: readonly NotifyFormat[] = ["json", "ntfy", "telegram", "slack"];

function parseNotify(
  lookup: (name: string) => Found | undefined,
  envFile: string,
): NotifyTarget | undefined {
  const url = lookup("KITEKEEPER_NOTIFY_URL");
  if (url === undefined) return undefined;
  const found = lookup("KITEKEEPER_NOTIFY_FORMAT");
  const format = NOTIFY_FORMATS.find((f) => f === (found?.value.trim().toLowerCase() ?? "json"));
  if (format === undefined) {
    throw invalid(found!, `"${found!.value}" is not json, ntfy, telegram or slack`);
  }
  const target = parseUrl(url, ["http:", "https:"]);
  if (format !== "telegram") return { format, url: target } satisfies NotifyTarget;
  const chatId = lookup("KITEKEEPER_TELEGRAM_CHAT_ID")?.value.trim();
  if (chatId === undefined || chatId === "") {
    throw new ConfigError(
      `Missing KITEKEEPER_TELEGRAM_CHAT_ID (KITEKEEPER_NOTIFY_FORMAT is telegram): set it in ${envFile} or the environment`,
    );
  }
  return { format, url: target, chatId } satisfies NotifyTarget;
}

/** A size in bytes, at least 1 KiB (a `.env` with the credentials is a few hundred bytes). */
function parseByteCount(found: Found): number {
  const value = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
  if (!(value >= 1024 && Number.isSafeInteger(value))) {
    throw invalid(found, `"${found.value}" is not a whole number of bytes, 1024 or more`);
  }
  return value;
}

/**
 * The `.env` size limit for the first read, before the file's own values are known: from
 * the environment, else the default (a bad value is reported by {@linkcode loadConfig}).
 */
export function envMaxBytesFrom(env: Readonly<Record<string, string | undefined>>): number {
  const value = Number(env["KITEKEEPER_ENV_MAX_BYTES"]?.trim());
  return Number.isSafeInteger(value) && value >= 1024 ? value : DEFAULT_ENV_MAX_BYTES;
}

/** Whole minutes ≥ 0 as ms; 0 turns the check off (`null`). */
function parseWarnMinutes(found: Found): number | null {
  const value = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
  if (!(value >= 0 && value <= 24 * 60)) {
    throw invalid(found, `"${found.value}" is not a whole number of minutes (0 turns it off)`);
  }
  return value === 0 ? null : value * 60_000;
}

function parseKeepDays(found: Found | undefined): number | null {
  if (found === undefined || found.value.trim() === "") return null;
  const value = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
  if (!(value >= 1 && value <= 36_500)) {
    throw invalid(found, `"${found.value}" is not a whole number of days (at least 1)`);
  }
  return value;
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) {
    // A frozen RegExp cannot update lastIndex; ours has no g/y flag, but leave it be.
    if (typeof inner === "object" && inner !== null && !(inner instanceof RegExp)) {
      deepFreeze(inner);
    }
  }
  return Object.freeze(value);
}

/**
 * Builds the {@linkcode Config} from the parsed `.env` values and the environment. An empty
 * value counts as unset. Throws {@linkcode ConfigError} naming the variable and where it was
 * found (or where to set it) for a missing API key or secret and for any malformed value.
 *
 * @example
 * ```ts
 * const file = await readEnvFile(path);
 * const config = loadConfig(file.kind === "ok" ? file.values : {}, {
 *   env: Deno.env.toObject(),
 *   envFile: path,
 * });
 * ```
 */
export function loadConfig(
  fileValues: Readonly<Record<string, string>>,
  options: LoadConfigOptions,
): Config {
  const { env, envFile } = options;
  const warnings: string[] = [];

  function lookup(name: string): Found | undefined {
    const names = ALIASES[name] === undefined ? [name] : [name, ALIASES[name]];
    for (const candidate of names) {
      const value = env[candidate];
      if (value !== undefined && value !== "") {
        return { name: candidate, value, where: "in the environment" };
      }
    }
    for (const candidate of names) {
      const value = fileValues[candidate];
      if (value !== undefined && value !== "") {
        return { name: candidate, value, where: `in ${envFile}` };
      }
    }
    return undefined;
  }
  function required(name: string): string {
    const found = lookup(name);
    if (found === undefined) {
      throw new ConfigError(`Missing ${name}: set it in ${envFile} or the environment`);
    }
    return found.value;
  }
  function withDefault(name: keyof typeof DEFAULTS): Found {
    return lookup(name) ?? { name, value: DEFAULTS[name], where: "(the default)" };
  }

  const apiKey = required("KITE_API_KEY");
  const apiSecret = required("KITE_API_SECRET");
  const userId = lookup("KITE_USER_ID")?.value.trim();
  const holidaysFile = lookup("KITEKEEPER_HOLIDAYS")?.value.trim();
  const journalDir = lookup("KITEKEEPER_JOURNAL_DIR")?.value.trim();
  const keepDays = parseKeepDays(lookup("KITEKEEPER_JOURNAL_KEEP_DAYS"));
  const adminToken = parseAdminToken(lookup("KITEKEEPER_ADMIN_TOKEN"));
  const notify = parseNotify(lookup, envFile);
  const listen = parseListen(
    options.listen === undefined
      ? withDefault("KITEKEEPER_LISTEN")
      : { name: "--listen", value: options.listen, where: "on the command line" },
  );
  const publicFound = lookup("KITEKEEPER_PUBLIC_URL");
  const publicUrl = publicFound === undefined
    ? derivedPublicUrl(listen)
    : parseUrl(publicFound, ["http:", "https:"]).replace(/\/+$/, "");
  const backoffBaseMs = parseMilliseconds(withDefault("KITEKEEPER_BACKOFF_BASE_MS"));
  const capFound = withDefault("KITEKEEPER_BACKOFF_CAP_MS");
  const backoffCapMs = parseMilliseconds(capFound);
  if (backoffCapMs < backoffBaseMs) {
    throw invalid(capFound, `${backoffCapMs} is below the backoff base (${backoffBaseMs})`);
  }
  for (const name of ["KITE_ACCESS_TOKEN", "ZERODHA_ACCESS_TOKEN"]) {
    if ((env[name] ?? "") !== "") {
      warnings.push(`${name} in the environment is ignored: the token is read from ${envFile}`);
    }
  }

  return deepFreeze({
    envFile,
    apiKey,
    apiSecret,
    ...(userId === undefined || userId === "" ? {} : { userId }),
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(notify === undefined ? {} : { notify }),
    apiRoot: parseUrl(withDefault("KITE_API_ROOT"), ["http:", "https:"]).replace(/\/+$/, ""),
    loginUrl: parseUrl(withDefault("KITE_LOGIN_URL"), ["http:", "https:"]),
    tickerUrl: parseUrl(withDefault("KITE_TICKER_URL"), ["ws:", "wss:"]),
    listen,
    publicUrl,
    instruments: parseInstruments(withDefault("KITEKEEPER_INSTRUMENTS")),
    mode: parseMode(withDefault("KITEKEEPER_MODE")),
    tokenExpiry: parseClock(withDefault("KITEKEEPER_TOKEN_EXPIRY")),
    tokenRecheck: parseClock(withDefault("KITEKEEPER_TOKEN_RECHECK")),
    probeIntervalMs: parseMilliseconds(withDefault("KITEKEEPER_PROBE_INTERVAL_MS")),
    remindAt: parseClocks(withDefault("KITEKEEPER_REMIND_AT")),
    tokenPattern: parsePattern(withDefault("KITEKEEPER_TOKEN_PATTERN")),
    envMaxBytes: parseByteCount(withDefault("KITEKEEPER_ENV_MAX_BYTES")),
    backoffBaseMs,
    backoffCapMs,
    stallMs: parseMilliseconds(withDefault("KITEKEEPER_STALL_MS")),
    holidaysFile: holidaysFile === undefined || holidaysFile === ""
      ? null
      : isAbsolute(holidaysFile)
      ? holidaysFile
      : join(dirname(envFile), holidaysFile),
    noTicksWarnMs: parseWarnMinutes(withDefault("KITEKEEPER_NO_TICKS_WARN_MIN")),
    clientTokens: parseClientTokens(lookup("KITEKEEPER_CLIENT_TOKENS")),
    maxClients: parseMaxClients(withDefault("KITEKEEPER_MAX_CLIENTS")),
    journal: journalDir === undefined || journalDir === "" ? null : {
      dir: isAbsolute(journalDir) ? journalDir : join(dirname(envFile), journalDir),
      keepDays,
    },
    cluster: parseCluster(lookup),
    warnings,
  });
}

/**
 * The lifecycle's settings from `config`: the configured instruments as the first plan, the
 * backoff and stall limits, and the timed rules (expiry, recheck, probes, reminders).
 */
export function lifecycleOptions(
  config: Config,
  options: { readonly holidays: ReadonlySet<string> },
): LifecycleOptions {
  return {
    subscriptions: { tokens: config.instruments, mode: config.mode },
    backoffBaseMs: config.backoffBaseMs,
    backoffCapMs: config.backoffCapMs,
    stallMs: config.stallMs,
    expiryAt: formatTimeOfDay(config.tokenExpiry),
    recheckAt: formatTimeOfDay(config.tokenRecheck),
    probeIntervalMs: config.probeIntervalMs,
    remindAt: config.remindAt.map(formatTimeOfDay),
    holidays: options.holidays,
  };
}
