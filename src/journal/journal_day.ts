/**
 * One journal file per IST calendar day (India keeps no daylight saving: UTC+05:30), named
 * `YYYY-MM-DD.kkj`; everything here is arithmetic on epoch milliseconds.
 *
 * @module
 */

import { isCalendarDate, IST_OFFSET_MS, parseTimeOfDay } from "../market/ist_time.ts";

const FILE_NAME = /^(\d{4}-\d{2}-\d{2})\.kkj$/;

/** The journal's file name suffix. */
export const JOURNAL_SUFFIX = ".kkj";

/** Epoch ms of IST midnight starting `date`; NaN when `date` is not a calendar date. */
export function istMidnight(date: string): number {
  if (!isCalendarDate(date)) return NaN;
  return Date.parse(`${date}T00:00:00Z`) - IST_OFFSET_MS;
}

/** Epoch ms of `HH:MM` IST on `date`; NaN when either does not parse. */
export function istInstant(date: string, time: string): number {
  let at;
  try {
    at = parseTimeOfDay(time);
  } catch {
    return NaN;
  }
  return istMidnight(date) + (at.hour * 60 + at.minute) * 60_000;
}

/** The journal file name of `date`. */
export function journalFileName(date: string): string {
  return `${date}${JOURNAL_SUFFIX}`;
}

/** The date a journal file name stands for, or `undefined` for any other name. */
export function dateOfFileName(name: string): string | undefined {
  const date = FILE_NAME.exec(name)?.[1];
  return date !== undefined && !Number.isNaN(istMidnight(date)) ? date : undefined;
}

/** The dates `dir` holds a journal file for, oldest first, and the names it does not know. */
export async function listJournal(
  dir: string,
): Promise<{ dates: string[]; foreign: string[] }> {
  const dates: string[] = [];
  const foreign: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const date = entry.isFile ? dateOfFileName(entry.name) : undefined;
    if (date === undefined) foreign.push(entry.name);
    else dates.push(date);
  }
  return { dates: dates.sort(), foreign: foreign.sort() };
}

/** Where `date`'s journal file is, or why there is none (naming the dates `dir` has). */
export type JournalDayLookup =
  | { readonly kind: "found"; readonly path: string }
  | { readonly kind: "missing"; readonly detail: string };

/** Finds `date`'s file in the journal directory `dir`, for `replay` and `export`. */
export async function journalDayPath(dir: string, date: string): Promise<JournalDayLookup> {
  if (Number.isNaN(istMidnight(date))) {
    return { kind: "missing", detail: `"${date}" is not a date (YYYY-MM-DD)` };
  }
  let dates: string[];
  try {
    dates = (await listJournal(dir)).dates;
  } catch (error: unknown) {
    const why = error instanceof Deno.errors.NotFound
      ? "does not exist"
      : `cannot be read: ${error instanceof Error ? error.message : String(error)}`;
    return { kind: "missing", detail: `journal directory ${dir} ${why}` };
  }
  if (dates.includes(date)) return { kind: "found", path: `${dir}/${journalFileName(date)}` };
  const has = dates.length === 0 ? "it holds no journal files" : `it has ${dates.join(", ")}`;
  return { kind: "missing", detail: `no journal for ${date} in ${dir}; ${has}` };
}
