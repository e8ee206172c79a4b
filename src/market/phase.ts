/**
 * NSE's trading day as phases, so `/status` can say "closed, opens 09:00" instead of
 * looking broken when no ticks flow. PURE: the instant and the holidays are passed in.
 *
 * NSE capital market, IST (UTC+05:30, India keeps no daylight saving time):
 *
 * | IST           | phase               | what happens                                       |
 * | ------------- | ------------------- | -------------------------------------------------- |
 * | 09:00–09:08   | `pre_open`          | order entry, modification, cancellation            |
 * | 09:08–09:15   | `pre_open_matching` | matching (to 09:12) and buffer: prices look frozen |
 * | 09:15–15:30   | `open`              | continuous trading                                 |
 * | 15:30–15:40   | `closed`            | closing price calculated; no orders are taken      |
 * | 15:40–16:00   | `closing`           | post-close session: trades at the closing price    |
 * | otherwise     | `closed`            | also all day on weekends and trading holidays      |
 *
 * 15:30–15:40 is `closed` because nothing trades and no order is accepted while NSE
 * computes the closing price; ticks that arrive then are late prints, not a live market.
 * Special sessions (Muhurat trading on a holiday, mock trading on a Saturday) are not
 * modelled: they show as `closed`.
 *
 * @module
 */
import { DAY_MS, isCalendarDate, IST_OFFSET_MS } from "./ist_time.ts";

/** Where NSE's trading day is; see the module doc for the timetable. */
export type MarketPhaseName = "pre_open" | "pre_open_matching" | "open" | "closing" | "closed";

/** The phase at an instant and when it next changes. */
export interface MarketPhase {
  readonly phase: MarketPhaseName;
  /** Epoch ms of the next boundary where the phase changes (weekends and holidays skipped). */
  readonly next_change: number;
}

/** Options for {@linkcode marketPhase}. */
export interface MarketPhaseOptions {
  /** Trading holidays as ISO dates (`YYYY-MM-DD`) in IST, e.g. from {@linkcode parseHolidays}. */
  readonly holidays: ReadonlySet<string>;
}

/** Options for {@linkcode parseHolidays}. */
export interface ParseHolidaysOptions {
  /** Where the text came from (a path), named in errors. */
  readonly source?: string;
}

interface Session {
  readonly phase: Exclude<MarketPhaseName, "closed">;
  /** Minutes after IST midnight. */
  readonly from: number;
  readonly to: number;
}

const MINUTE_MS = 60_000;
/** A bound on the search for the next trading day, so a set naming every day cannot hang. */
const MAX_CLOSED_DAYS = 3660;

/** A trading day's sessions in order; the gaps between them are `closed`. */
const SESSIONS: readonly Session[] = Object.freeze([
  { phase: "pre_open", from: 9 * 60, to: 9 * 60 + 8 },
  { phase: "pre_open_matching", from: 9 * 60 + 8, to: 9 * 60 + 15 },
  { phase: "open", from: 9 * 60 + 15, to: 15 * 60 + 30 },
  { phase: "closing", from: 15 * 60 + 40, to: 16 * 60 },
]);

/** The IST calendar day of an IST-shifted instant, as days since the epoch. */
function istDay(istMs: number): number {
  return Math.floor(istMs / DAY_MS);
}

function isoDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

function isTradingDay(day: number, holidays: ReadonlySet<string>): boolean {
  // 1970-01-01 was a Thursday: day 0 → 4 in getUTCDay's Sunday-first numbering.
  const weekday = (((day + 4) % 7) + 7) % 7;
  return weekday !== 0 && weekday !== 6 && !holidays.has(isoDate(day));
}

/** Epoch ms (UTC) of `minutes` after IST midnight on `day`. */
function instant(day: number, minutes: number): number {
  return day * DAY_MS + minutes * MINUTE_MS - IST_OFFSET_MS;
}

/** Epoch ms of the first session start on a trading day after `day`. */
function nextOpening(day: number, holidays: ReadonlySet<string>): number {
  const first = SESSIONS[0]!;
  for (let next = day + 1; next <= day + MAX_CLOSED_DAYS; next++) {
    if (isTradingDay(next, holidays)) return instant(next, first.from);
  }
  throw new RangeError(
    `Failed to find a trading day: the ${MAX_CLOSED_DAYS} days after ${
      isoDate(day)
    } are all holidays`,
  );
}

/**
 * The NSE phase at `now` (epoch ms) and the instant it next changes. A boundary belongs to
 * the phase it starts: 09:15:00.000 IST is `open`, 15:30:00.000 IST is `closed`.
 *
 * @throws {RangeError} when `now` is not a finite number, or `holidays` leaves no trading
 *   day in the next ten years
 */
export function marketPhase(now: number, options: MarketPhaseOptions): MarketPhase {
  if (!Number.isFinite(now)) throw new RangeError(`Failed to place instant: ${now} is not finite`);
  const istMs = now + IST_OFFSET_MS;
  const day = istDay(istMs);
  const { holidays } = options;
  if (!isTradingDay(day, holidays)) {
    return { phase: "closed", next_change: nextOpening(day, holidays) };
  }
  const minuteOfDay = (istMs - day * DAY_MS) / MINUTE_MS;
  for (const session of SESSIONS) {
    if (minuteOfDay < session.from) {
      return { phase: "closed", next_change: instant(day, session.from) };
    }
    if (minuteOfDay < session.to) {
      return { phase: session.phase, next_change: instant(day, session.to) };
    }
  }
  return { phase: "closed", next_change: nextOpening(day, holidays) };
}

/**
 * The phase at `now` and the instant it began (`since`, exact for every phase of a trading
 * day; a closed spell longer than a day reports a start a day back). Walks forward from a day
 * earlier through {@linkcode marketPhase}'s boundaries: a few steps.
 */
export function phaseWithStart(
  now: number,
  options: MarketPhaseOptions,
): { readonly phase: MarketPhaseName; readonly since: number } {
  let since = now - DAY_MS;
  let current = marketPhase(since, options);
  while (current.next_change <= now) {
    since = current.next_change;
    current = marketPhase(since, options);
  }
  return { phase: current.phase, since };
}

/**
 * Reads a holidays file (`KITEKEEPER_HOLIDAYS`): one ISO date (`YYYY-MM-DD`, IST) a line;
 * blank lines and `#` comments (whole-line or after the date) are ignored.
 *
 * @throws {SyntaxError} naming the first bad line (number and text), e.g.
 *   `Failed to parse holidays in h.txt: line 3 "2026-02-30" is not a calendar date (YYYY-MM-DD)`
 */
export function parseHolidays(text: string, options: ParseHolidaysOptions = {}): Set<string> {
  const where = options.source === undefined ? "" : ` in ${options.source}`;
  const holidays = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const hash = line.indexOf("#");
    const date = (hash < 0 ? line : line.slice(0, hash)).trim();
    if (date === "") continue;
    if (!isCalendarDate(date)) {
      throw new SyntaxError(
        `Failed to parse holidays${where}: line ${index + 1} ${
          JSON.stringify(line.trim())
        } is not a calendar date (YYYY-MM-DD)`,
      );
    }
    holidays.add(date);
  }
  return holidays;
}
