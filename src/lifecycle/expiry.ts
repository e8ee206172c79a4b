/**
 * When a Kite access token is expected to die: at a fixed time of day in India Standard
 * Time (UTC+05:30, no daylight saving), 06:00 by default. Pure arithmetic on epoch ms.
 *
 * @module
 */

/** A time of day, hours 0–23 and minutes 0–59. */
export interface TimeOfDay {
  /** 0–23. */
  readonly hour: number;
  /** 0–59. */
  readonly minute: number;
}

/** The expiry time Kite documents for access tokens: 06:00 IST the next morning. */
export const DEFAULT_EXPIRY: TimeOfDay = Object.freeze({ hour: 6, minute: 0 });

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const IST_OFFSET_MS = 330 * MINUTE_MS;
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Parses `HH:MM` (24-hour, two digits each), e.g. the `KITEKEEPER_TOKEN_EXPIRY` setting.
 *
 * @throws {SyntaxError} when `text` is not a valid `HH:MM`.
 */
export function parseTimeOfDay(text: string): TimeOfDay {
  const match = TIME_OF_DAY.exec(text.trim());
  if (!match) throw new SyntaxError(`Failed to parse time of day "${text}": expected HH:MM`);
  return Object.freeze({ hour: Number(match[1]), minute: Number(match[2]) });
}

/** Formats a {@linkcode TimeOfDay} as `HH:MM`. */
export function formatTimeOfDay(time: TimeOfDay): string {
  return `${String(time.hour).padStart(2, "0")}:${String(time.minute).padStart(2, "0")}`;
}

/**
 * The first instant at or after `after` (epoch ms) whose IST wall-clock time is `at`.
 *
 * @example
 * ```ts
 * // 2024-03-10 23:00 IST is 17:30 UTC; the next 06:00 IST is 2024-03-11 00:30 UTC.
 * nextIstTime(Date.UTC(2024, 2, 10, 17, 30), { hour: 6, minute: 0 }) ===
 *   Date.UTC(2024, 2, 11, 0, 30); // true
 * ```
 */
export function nextIstTime(after: number, at: TimeOfDay): number {
  const local = after + IST_OFFSET_MS;
  const midnight = Math.floor(local / DAY_MS) * DAY_MS;
  let candidate = midnight + (at.hour * 60 + at.minute) * MINUTE_MS;
  if (candidate < local) candidate += DAY_MS;
  return candidate - IST_OFFSET_MS;
}
