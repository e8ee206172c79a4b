/**
 * NSE's capital-market trading holidays for 2026, the default calendar for `marketPhase`
 * (market_phase.ts). Embedded as text in the holidays-file format, so the compiled
 * binary needs no data file and an operator can copy it as a starting point for
 * `KITEKEEPER_HOLIDAYS` (print it with {@linkcode NSE_HOLIDAYS_2026_TEXT}).
 *
 * Source: NSE circular CMTR71775 (2025-12-12, "Trading Holidays for the Calendar Year
 * 2026"), plus the special holiday of 2026-01-15 announced later. NSE adds or moves
 * holidays during the year: check https://www.nseindia.com/resources/exchange-communication-holidays.
 *
 * @module
 */
import { parseHolidays } from "./phase.ts";

/** The 2026 list in the `KITEKEEPER_HOLIDAYS` file format (weekday holidays only). */
export const NSE_HOLIDAYS_2026_TEXT =
  `# NSE capital market trading holidays, 2026 (IST). One ISO date a line.
# Source: NSE circular CMTR71775 (2025-12-12) and the 2026-01-15 special holiday.
# Holidays on a Saturday or Sunday need no line: Mahashivratri 02-15, Id-Ul-Fitr 03-21,
# Independence Day 08-15, Diwali Laxmi Pujan 11-08 (Muhurat trading that Sunday: not modelled).
2026-01-15  # Municipal Corporation elections, Maharashtra (special holiday)
2026-01-26  # Republic Day
2026-03-03  # Holi
2026-03-26  # Shri Ram Navami
2026-03-31  # Shri Mahavir Jayanti
2026-04-03  # Good Friday
2026-04-14  # Dr. Baba Saheb Ambedkar Jayanti
2026-05-01  # Maharashtra Day
2026-05-28  # Bakri Id
2026-06-26  # Muharram
2026-09-14  # Ganesh Chaturthi
2026-10-02  # Mahatma Gandhi Jayanti
2026-10-20  # Dussehra
2026-11-10  # Diwali Balipratipada
2026-11-24  # Prakash Gurpurb Sri Guru Nanak Dev
2026-12-25  # Christmas
`;

/** A fresh set of NSE's 2026 trading holidays (ISO dates, IST), for `marketPhase`. */
export function nseHolidays2026(): Set<string> {
  return parseHolidays(NSE_HOLIDAYS_2026_TEXT, { source: "the built-in NSE 2026 list" });
}
