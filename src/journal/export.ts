/**
 * A journal day as a file for analysis: CSV or Parquet, one row per tick
 * (`tick_rows.ts`), written as it is read so a day of any size streams through.
 *
 * Parquet is written with `hyparquet-writer`: pure JavaScript, no native code or WASM to load
 * (so it runs under Deno with no extra permission and in `deno compile`d binaries), maintained,
 * streaming row groups; Snappy pages, timestamps as UTC-adjusted TIMESTAMP(MICROS/MILLIS).
 * Read back by DuckDB in the tests; pandas and polars read the same files through pyarrow.
 *
 * @module
 */
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { SchemaElement } from "hyparquet";
import { type JournalEnd, readJournal } from "./reader.ts";
import { type ColumnType, recordRows, TICK_COLUMNS, type TickRow } from "./tick_rows.ts";

/** The file formats `kitekeeper export` writes. */
export type ExportFormat = "csv" | "parquet";

/** Where exported bytes go: a file or stdout. */
export interface ExportSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** What an export did. */
export interface ExportResult {
  readonly rows: number;
  /** Where the journal's valid part ended; a torn tail still exports everything before it. */
  readonly end: JournalEnd;
}

const ROWS_PER_GROUP = 100_000;
// Far larger than any line (52 short fields).
const CSV_CHUNK_BYTES = 1 << 20;

async function writeAll(sink: ExportSink, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await sink.write(bytes.subarray(at));
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

/** ISO 8601 UTC with six decimals: `2026-12-02T04:30:00.123456Z`. */
function isoMicros(us: number): string {
  const seconds = Math.floor(us / 1e6);
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(Math.round(us - seconds * 1e6)).padStart(6, "0")}Z`;
}

function isoSeconds(s: number): string {
  const date = new Date(s * 1000);
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}T${
    two(date.getUTCHours())
  }:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}Z`;
}

const HEADER = TICK_COLUMNS.map((column) => column.name).join(",") + "\n";
const TYPES: readonly ColumnType[] = TICK_COLUMNS.map((column) => column.type);

function csvLine(row: TickRow): string {
  let line = "";
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (i > 0) line += ",";
    if (value === null || value === undefined) continue;
    const type = TYPES[i];
    if (type === "timestamp_us") line += isoMicros(value as number);
    else if (type === "timestamp_s") line += isoSeconds(value as number);
    else line += value; // No value holds a comma, quote or newline: modes are words.
  }
  return line + "\n";
}

const PARQUET_ELEMENT: Readonly<Record<ColumnType, Omit<SchemaElement, "name">>> = {
  timestamp_us: {
    type: "INT64",
    converted_type: "TIMESTAMP_MICROS",
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
  },
  timestamp_s: {
    type: "INT64",
    converted_type: "TIMESTAMP_MILLIS",
    logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
  },
  int32: { type: "INT32" },
  uint32: { type: "INT32", converted_type: "UINT_32" },
  double: { type: "DOUBLE" },
  string: { type: "BYTE_ARRAY", converted_type: "UTF8" },
  bool: { type: "BOOLEAN" },
};

function parquetSchema(): SchemaElement[] {
  return [
    { name: "root", num_children: TICK_COLUMNS.length },
    ...TICK_COLUMNS.map((column) => ({
      name: column.name,
      repetition_type: "OPTIONAL" as const,
      ...PARQUET_ELEMENT[column.type],
    })),
  ];
}

/** Writes rows as Parquet, a row group at a time. */
function parquetOutput(sink: ExportSink) {
  const writer = new ByteWriter();
  const parquet = new ParquetWriter({
    writer,
    schema: parquetSchema(),
    createdBy: "kitekeeper export",
  });
  async function drain(): Promise<void> {
    await writeAll(sink, writer.getBytes().slice());
    writer.index = 0;
  }
  return {
    async rows(rows: readonly TickRow[]): Promise<void> {
      if (rows.length === 0) return;
      const columnData = TICK_COLUMNS.map((column, i) => {
        const values = rows.map((row) => row[i] ?? null);
        // Timestamp columns: seconds become the milliseconds the schema declares.
        const data = column.type === "timestamp_s"
          ? values.map((v) => v === null ? null : (v as number) * 1000)
          : values;
        return { name: column.name, data };
      });
      await parquet.write({ columnData, rowGroupSize: rows.length });
      await drain();
    },
    async finish(): Promise<void> {
      parquet.finish();
      await drain();
    },
  };
}

/** Writes rows as CSV with a header line, through a buffer of about a megabyte. */
function csvOutput(sink: ExportSink) {
  const encoder = new TextEncoder();
  // Lines are encoded straight into one buffer: building a megabyte string first spends
  // most of the time in the garbage collector.
  const buffer = new Uint8Array(CSV_CHUNK_BYTES);
  let used = 0;
  /** Encodes `line` into the buffer; false when it does not fit (the buffer is left as was). */
  function fits(line: string): boolean {
    const { read, written } = encoder.encodeInto(line, buffer.subarray(used));
    if (read < line.length) return false;
    used += written;
    return true;
  }
  async function put(line: string): Promise<void> {
    if (fits(line)) return;
    await writeAll(sink, buffer.subarray(0, used));
    used = 0;
    fits(line);
  }
  let started = false;
  return {
    async rows(rows: readonly TickRow[]): Promise<void> {
      if (!started) await put(HEADER);
      started = true;
      for (const row of rows) {
        const line = csvLine(row);
        if (!fits(line)) await put(line);
      }
    },
    async finish(): Promise<void> {
      if (!started) await put(HEADER);
      await writeAll(sink, buffer.subarray(0, used));
      used = 0;
    },
  };
}

/**
 * Exports the journal file at `path` to `sink` as `format`: every tick of every intact
 * block, in order, stopping where the valid part of the file ends.
 *
 * @throws {Deno.errors.NotFound} when `path` does not exist
 */
export async function exportJournal(
  path: string,
  options: { format: ExportFormat; sink: ExportSink },
): Promise<ExportResult> {
  const output = options.format === "csv" ? csvOutput(options.sink) : parquetOutput(options.sink);
  let end: JournalEnd | undefined;
  let batch: TickRow[] = [];
  let rows = 0;
  for await (const record of readJournal(path, { onEnd: (e) => end = e })) {
    for (const row of recordRows(record)) batch.push(row);
    if (batch.length >= ROWS_PER_GROUP) {
      rows += batch.length;
      await output.rows(batch);
      batch = [];
    }
  }
  rows += batch.length;
  await output.rows(batch);
  await output.finish();
  return { rows, end: end! };
}
