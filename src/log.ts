/**
 * Log lines: one line per event, greppable, stamped in UTC. Callers pass fingerprints, never
 * tokens; this module adds nothing secret. Messages carry text from outside (Kite's error
 * text, close reasons, user ids, request paths), so the sink escapes every control character
 * and caps the length ({@linkcode logSafe}): no forged lines, no terminal escapes, no 200 KB
 * lines, whatever a caller passes.
 *
 * @module
 */
import type { LogLevel } from "./log_level.ts";

/** Writes one log line. */
export type Logger = (level: LogLevel, message: string) => void;

/** The longest message a log line carries; the rest is cut and counted. */
export const MAX_LOG_MESSAGE_CHARS = 2000;

// C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators and bidi
// overrides, which some terminals and log viewers break or reorder lines on.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` made safe for one log line: control characters escaped (`\n`, `\x1b`, `\u2028`) and
 * at most `maxChars` characters kept (default {@linkcode MAX_LOG_MESSAGE_CHARS}), the cut
 * counted.
 *
 * @example
 * ```ts
 * logSafe("bad\n2026-01-01T00:00:00.000Z INFO forged"); // "bad\\n2026-… INFO forged"
 * ```
 */
export function logSafe(text: string, options: { maxChars?: number } = {}): string {
  const maxChars = options.maxChars ?? MAX_LOG_MESSAGE_CHARS;
  // Cut first (a 200 KB message costs no escaping of what is dropped), then escape.
  const cut = text.length > maxChars ? text.slice(0, maxChars) : text;
  const escaped = cut.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return NAMED[char] ??
      (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
  });
  return cut.length < text.length
    ? `${escaped}… (${text.length - cut.length} more chars)`
    : escaped;
}

/** A logger that writes `2026-11-30T21:22:37.123Z INFO message` to stdout (warn/error: stderr). */
export function consoleLogger(
  options: { now?: () => number; quiet?: readonly LogLevel[] } = {},
): Logger {
  const now = options.now ?? Date.now;
  const quiet = new Set(options.quiet ?? ["debug"]);
  return function log(level, message) {
    if (quiet.has(level)) return;
    const stamp = `${new Date(now()).toISOString()} ${level.toUpperCase().padEnd(5)}`;
    const line = `${stamp} ${logSafe(message)}`;
    if (level === "warn" || level === "error") console.error(line);
    else console.log(line);
  };
}

/** The block an operator sees when a login is needed, with the URL to open: one line each. */
export function loginNeededBlock(reason: string, loginUrl: string): readonly string[] {
  const rule = "=".repeat(72);
  return [
    rule,
    `LOGIN NEEDED: ${reason}`,
    `  Open ${loginUrl} and log in to Kite.`,
    "  kitekeeper watches .env and reconnects by itself: no restart needed.",
    rule,
  ];
}

/**
 * The block an operator sees when a login succeeded but `.env` could not be written: one
 * line each.
 */
export function envStaleBlock(envFile: string, detail: string): readonly string[] {
  const rule = "=".repeat(72);
  return [
    rule,
    `.ENV IS STALE: ${detail}`,
    `  The new session is in use, but ${envFile} still holds the old token:`,
    "  a restart would go back to it. Fix the file (permissions, space), then send SIGHUP",
    "  or log in again; kitekeeper writes the session as soon as it can.",
    rule,
  ];
}
