/**
 * India Standard Time: UTC+05:30 all year (India keeps no daylight saving), so every IST
 * question is arithmetic on epoch milliseconds. Kite, NSE and the token's death all keep IST.
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

/** IST's offset from UTC, in ms. */
export const IST_OFFSET_MS = 330 * 60_000;
/** One calendar day, in ms. */
export const DAY_MS = 86_400_000;

const MINUTE_MS = 60_000;
const TIME_OF_DAY = /^(\d{1,2}):(\d{2})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Parses `HH:MM` (24-hour; `7:30` is read as `07:30`), e.g. `KITEKEEPER_TOKEN_EXPIRY`.
 *
 * @throws {SyntaxError} when `text` is not a valid 24-hour `HH:MM`.
 */
export function parseTimeOfDay(text: string): TimeOfDay {
  const match = TIME_OF_DAY.exec(text.trim());
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (match === null || hour > 23 || minute > 59) {
    throw new SyntaxError(`Failed to parse time of day "${text}": expected HH:MM`);
  }
  return Object.freeze({ hour, minute });
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

/** The IST date (`YYYY-MM-DD`) of the instant `ms`. */
export function istDate(ms: number): string {
  return new Date(Math.floor((ms + IST_OFFSET_MS) / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` naming a real day: 2026-02-30 and 2026-13-01 are not. */
export function isCalendarDate(text: string): boolean {
  const match = ISO_DATE.exec(text);
  if (match === null) return false;
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  return new Date(Date.UTC(year, month - 1, day)).toISOString().slice(0, 10) === text;
}

/** `YYYY-MM-DD HH:MM:SS` in IST, as Kite writes `login_time`. */
export function istWallClock(ms: number): string {
  return new Date(ms + IST_OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
}

/** Epoch ms of Kite's IST wall-clock text (`YYYY-MM-DD HH:MM:SS`); NaN when it does not parse. */
export function parseIstWallClock(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}+05:30`);
}
