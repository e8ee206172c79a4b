/**
 * `kitekeeper export --journal DIR --date YYYY-MM-DD --format csv|parquet [--out FILE]`:
 * a journal day as one row per tick, to FILE or to stdout.
 *
 * @module
 */
import { parseFlags, stringFlag } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";
import { type ExportFormat, exportJournal } from "../journal/export.ts";
import { journalDayPath } from "../journal/journal_day.ts";
import { describeEnd } from "../journal/reader.ts";

const FLAGS = {
  journal: { type: "string" },
  date: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
} as const;

function formatFlag(text: string): ExportFormat {
  if (text === "csv" || text === "parquet") return text;
  throw new UsageError(`Failed to parse --format "${text}": expected csv or parquet`);
}

/**
 * Runs `export`: 0 once written (a torn tail is reported on stderr and what precedes it is
 * exported), 1 when the directory or the day is not there (listing the days it has).
 *
 * @throws {UsageError} for an unknown, missing or malformed flag.
 */
export async function exportCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args, FLAGS);
  const dir = stringFlag(flags, "journal");
  const date = stringFlag(flags, "date");
  const format = formatFlag(stringFlag(flags, "format"));
  const out = typeof flags.out === "string" ? flags.out : undefined;
  const found = await journalDayPath(dir, date);
  if (found.kind !== "found") {
    console.error(`Failed to export: ${found.detail}`);
    return 1;
  }
  const file = out === undefined
    ? undefined
    : await Deno.open(out, { write: true, create: true, truncate: true });
  try {
    const started = performance.now();
    const { rows, end } = await exportJournal(found.path, {
      format,
      sink: file ?? Deno.stdout,
    });
    const stop = describeEnd(found.path, end);
    if (stop !== null) console.error(`Warning: exported what is valid; ${stop}`);
    if (end.kind === "foreign") return 1;
    const seconds = (performance.now() - started) / 1000;
    console.error(
      `exported ${rows} rows of ${date} as ${format}${out === undefined ? "" : ` to ${out}`} ` +
        `in ${seconds.toFixed(2)} s`,
    );
    return 0;
  } finally {
    file?.close();
  }
}
