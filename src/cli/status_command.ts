/**
 * `kitekeeper status [--url URL] [--json]`: asks a running kitekeeper for `/status` and
 * prints a summary. Exit 0 when Live, 1 when not, 2 when it cannot tell (unreachable, or
 * the answer is not kitekeeper's). Needs only `--allow-net`; with `--allow-env` it also
 * reads `KITEKEEPER_LISTEN` (the default address) and `KITEKEEPER_ADMIN_TOKEN` (sent as a
 * bearer), and it never prompts for either.
 *
 * @module
 */
import { dialHost, httpOrigin, parseHostPort } from "../host_port.ts";
import type { StateName, StatusBody } from "../ops/status_body.ts";
import { parseFlags } from "./parse_flags.ts";

const DEFAULT_URL = "http://127.0.0.1:8000";
const TIMEOUT_MS = 5_000;
const STATES: readonly StateName[] = ["Disconnected", "Reconnecting", "Live", "Expired"];

/** An environment variable, when readable without a prompt; else `undefined`. */
function envIfGranted(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  if (state !== "granted") return undefined;
  const value = Deno.env.get(name)?.trim();
  return value === "" ? undefined : value;
}

/** `HOST:PORT` as the URL a client uses: a wildcard host means loopback. */
function listenUrl(listen: string): string | undefined {
  const address = parseHostPort(listen);
  return address === null ? undefined : httpOrigin(dialHost(address.hostname), address.port);
}

function baseUrl(flag: string | undefined): string {
  const given = flag ?? listenUrl(envIfGranted("KITEKEEPER_LISTEN") ?? "") ?? DEFAULT_URL;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  return withScheme.replace(/\/+$/, "");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True when `value` has the fields the summary reads, as /status sends them. */
function isStatusBody(value: unknown): value is StatusBody {
  if (!isRecord(value)) return false;
  const { state, since, reason, feed, token } = value;
  return STATES.includes(state as StateName) && typeof since === "string" &&
    typeof reason === "string" && isRecord(feed) && isRecord(feed["instruments"]) &&
    (token === null || isRecord(token));
}

/** `0.4 s`, `12 s`, `3m 05s`, `7h 12m`, `2d 3h`. */
function formatDuration(ms: number): string {
  const abs = Math.max(0, ms);
  if (abs < 10_000) return `${(abs / 1000).toFixed(1)} s`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s} s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor(s / 3600) % 24}h`;
}

function ago(iso: string | null, now: number): string {
  const at = iso === null ? NaN : Date.parse(iso);
  return Number.isNaN(at) ? "never" : `${formatDuration(now - at)} ago`;
}

/** Two decimals, or four for prices that need them (currency pairs). */
function formatPrice(value: number): string {
  const cents = value * 100;
  return value.toFixed(Math.abs(cents - Math.round(cents)) < 1e-6 ? 2 : 4);
}

function signed(text: string, value: number): string {
  return value < 0 ? text : `+${text}`;
}

function expiryLine(body: StatusBody, now: number): string {
  const expiry = body.token?.expected_expiry ?? null;
  const at = expiry === null ? NaN : Date.parse(expiry);
  if (Number.isNaN(at)) return body.login_needed ? "login needed" : "expiry unknown";
  if (now >= at) return "past expiry: login needed";
  const left = `expires in ${formatDuration(at - now)}`;
  return body.login_needed ? `${left}; login needed` : left;
}

/**
 * The human summary of a `/status` body as of `now` (epoch ms): state and since, reason,
 * token and its expiry countdown, one line per instrument, and the login URL when needed.
 *
 * @example
 * ```ts
 * console.log(formatStatus(await response.json(), Date.now()));
 * ```
 */
export function formatStatus(body: StatusBody, now: number): string {
  const lines = [`${body.state} since ${body.since} (${ago(body.since, now)})`];
  lines.push(`  reason:  ${body.reason}`);
  const { token } = body;
  if (token === null) {
    lines.push("  token:   none");
  } else {
    const user = token.user_id === null ? "" : `, user ${token.user_id}`;
    lines.push(
      `  token:   ${token.fingerprint} (from ${token.source}${user}), ${expiryLine(body, now)}`,
    );
  }
  if (body.env_problem) lines.push(`  .env:    ${body.env_problem}`);
  if (body.state !== "Live" && body.connection?.last_error) {
    lines.push(`  error:   ${body.connection.last_error}`);
  }
  const feed = body.feed;
  lines.push(
    `  feed:    ${feed.mode} mode, ${feed.ticks_total} ticks, last data ${
      ago(feed.last_data_at, now)
    }`,
  );
  const quotes = Object.values(feed.instruments);
  const columns = quotes.map((quote) => ({
    name: quote.name,
    price: formatPrice(quote.last_price),
    change: `${signed(formatPrice(quote.change), quote.change)} (${
      signed(quote.change_percent.toFixed(2), quote.change_percent)
    }%)`,
    age: ago(quote.at, now),
  }));
  const width = (key: "name" | "price" | "change") =>
    Math.max(0, ...columns.map((column) => column[key].length));
  for (const column of columns) {
    lines.push(
      `    ${column.name.padEnd(width("name"))}  ${column.price.padStart(width("price"))}  ` +
        `${column.change.padStart(width("change"))}  ${column.age}`,
    );
  }
  if (quotes.length === 0) lines.push("    (no ticks yet)");
  // Older daemons send neither; print them only when present.
  if (feed.warning) lines.push(`  warning: ${feed.warning}`);
  const market = body.market as StatusBody["market"] | undefined;
  if (market) {
    const next = Date.parse(market.next_change);
    const when = Number.isNaN(next) ? "" : `, changes in ${formatDuration(next - now)}`;
    lines.push(`  market:  ${market.phase}${when}`);
  }
  const upstream = feed.upstream as StatusBody["feed"]["upstream"] | undefined;
  if (upstream && upstream.some((shard) => shard.shard > 0 || shard.state !== "streaming")) {
    const shards = upstream.map((shard) => `${shard.shard} ${shard.state} (${shard.instruments})`);
    lines.push(`  sockets: ${shards.join(", ")}`);
  }
  const gaps = feed.gaps_today as StatusBody["feed"]["gaps_today"] | undefined;
  if (gaps && gaps.count > 0) {
    const latest = gaps.last.at(-1);
    const last = latest === undefined
      ? ""
      : latest.end === null
      ? `, one going on since ${ago(latest.start, now)}`
      : `, the last ${latest.seconds.toFixed(1)} s ended ${ago(latest.end, now)}`;
    lines.push(`  gaps:    ${gaps.count} today, ${gaps.seconds.toFixed(1)} s${last}`);
  }
  const journal = body.journal as StatusBody["journal"] | undefined;
  if (journal?.problem) lines.push(`  journal: stopped: ${journal.problem}`);
  if (body.login_needed && body.login_url !== null) lines.push(`  login:   ${body.login_url}`);
  const reminder = body.next_reminder ? Date.parse(body.next_reminder) : Number.NaN;
  if (!Number.isNaN(reminder)) lines.push(`  remind:  in ${formatDuration(reminder - now)}`);
  return lines.join("\n");
}

type Fetched =
  | { readonly kind: "ok"; readonly body: StatusBody; readonly text: string }
  | { readonly kind: "failed"; readonly message: string };

async function fetchStatus(url: string): Promise<Fetched> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const adminToken = envIfGranted("KITEKEEPER_ADMIN_TOKEN");
  if (adminToken !== undefined) headers["Authorization"] = `Bearer ${adminToken}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(`${url}/status`, { headers, signal: controller.signal });
    const text = await response.text();
    if (response.status === 401) {
      return {
        kind: "failed",
        message: `Failed to read ${url}/status: HTTP 401, it needs KITEKEEPER_ADMIN_TOKEN ` +
          "(set it, and run with --allow-env)",
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!isStatusBody(body)) {
      return {
        kind: "failed",
        message: `Failed to read ${url}/status: HTTP ${response.status}, not kitekeeper's status`,
      };
    }
    return { kind: "ok", body, text };
  } catch (error: unknown) {
    const detail = controller.signal.aborted
      ? `no answer within ${TIMEOUT_MS / 1000} s`
      : error instanceof Error
      ? error.message
      : String(error);
    return { kind: "failed", message: `Failed to reach kitekeeper at ${url}: ${detail}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `kitekeeper status`; returns 0 when Live, 1 when not, 2 when it cannot tell. */
export async function statusCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, { url: { type: "string" }, json: { type: "boolean" } });
  const url = baseUrl(typeof flags["url"] === "string" ? flags["url"] : undefined);
  const fetched = await fetchStatus(url);
  if (fetched.kind === "failed") {
    console.error(fetched.message.replaceAll("\n", " "));
    return 2;
  }
  console.log(flags["json"] === true ? fetched.text : formatStatus(fetched.body, Date.now()));
  return fetched.body.state === "Live" ? 0 : 1;
}
