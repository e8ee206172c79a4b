/**
 * The trading calendar the daemon uses for market phases: the file `KITEKEEPER_HOLIDAYS`
 * names, or NSE's 2026 list built into the binary. Read once at start-up by `run`, so a bad
 * file stops the daemon with one line (exit 2) instead of showing wrong phases for a day.
 *
 * @module
 */
import { nseHolidays2026 } from "./holidays_nse_2026.ts";
import { istDate } from "./ist_time.ts";
import { parseHolidays } from "./phase.ts";

/** A calendar and where it came from (for messages). */
export interface Holidays {
  /** ISO dates (`YYYY-MM-DD`, IST) on which NSE does not trade. */
  readonly dates: ReadonlySet<string>;
  /** The file's path, or `the built-in NSE 2026 list`. */
  readonly source: string;
}

/** Options for {@linkcode holidaysWarning}. */
export interface HolidaysWarningOptions {
  /** Epoch ms now. */
  readonly now: number;
}

const BUILT_IN = "the built-in NSE 2026 list";

/**
 * Reads the holidays file at `path` (one ISO date a line, `#` comments), or returns the
 * built-in NSE 2026 list when `path` is `null`.
 *
 * @throws {Error} naming the file when it cannot be read: `Failed to read /etc/h.txt: …`
 * @throws {SyntaxError} naming the file and line when a line is not a date, e.g.
 *   `Failed to parse holidays in /etc/kitekeeper/h.txt: line 3 …`
 */
export async function readHolidays(path: string | null): Promise<Holidays> {
  if (path === null) return { dates: nseHolidays2026(), source: BUILT_IN };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`Failed to read ${path}: ${detail}`, { cause: error });
  }
  return { dates: parseHolidays(text, { source: path }), source: path };
}

/**
 * A start-up warning when the calendar lists no holiday in the current IST year (running
 * 2027 on the 2026 list shows holidays as trading days), else `null`.
 */
export function holidaysWarning(
  holidays: Holidays,
  options: HolidaysWarningOptions,
): string | null {
  const year = istDate(options.now).slice(0, 4);
  for (const date of holidays.dates) {
    if (date.startsWith(`${year}-`)) return null;
  }
  return `The trading calendar (${holidays.source}) lists no holiday in ${year}: /status will ` +
    `show holidays as trading days; set KITEKEEPER_HOLIDAYS to a file with ${year}'s dates`;
}
