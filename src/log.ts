/**
 * Log lines: one line per event, greppable, stamped in UTC. Callers pass fingerprints, never
 * tokens; this module adds nothing secret.
 *
 * @module
 */
import type { LogLevel } from "./log_level.ts";

/** Writes one log line. */
export type Logger = (level: LogLevel, message: string) => void;

/** A logger that writes `2026-11-30T21:22:37.123Z INFO message` to stdout (warn/error: stderr). */
export function consoleLogger(
  options: { now?: () => number; quiet?: readonly LogLevel[] } = {},
): Logger {
  const now = options.now ?? Date.now;
  const quiet = new Set(options.quiet ?? ["debug"]);
  return function log(level, message) {
    if (quiet.has(level)) return;
    const line = `${new Date(now()).toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    if (level === "warn" || level === "error") console.error(line);
    else console.log(line);
  };
}

/** The block an operator sees when a login is needed, with the URL to open. */
export function loginNeededBlock(reason: string, loginUrl: string): string {
  const rule = "=".repeat(72);
  return [
    rule,
    `LOGIN NEEDED: ${reason}`,
    `  Open ${loginUrl} and log in to Kite.`,
    "  kitekeeper watches .env and reconnects by itself: no restart needed.",
    rule,
  ].join("\n");
}

/** The block an operator sees when a login succeeded but `.env` could not be written. */
export function envStaleBlock(envFile: string, detail: string): string {
  const rule = "=".repeat(72);
  return [
    rule,
    `.ENV IS STALE: ${detail}`,
    `  The new session is in use, but ${envFile} still holds the old token:`,
    "  a restart would go back to it. Fix the file (permissions, space), then send SIGHUP",
    "  or log in again; kitekeeper writes the session as soon as it can.",
    rule,
  ].join("\n");
}
