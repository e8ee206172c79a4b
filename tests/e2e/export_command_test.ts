import assert from "node:assert/strict";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { encode, type Mode, type Tick } from "../../src/kite/packets.ts";
import { istMidnight } from "../../src/journal/journal_day.ts";
import { TICK_COLUMNS, type TickRow, tickRow } from "../../src/journal/tick_rows.ts";
import { createJournalWriter } from "../../src/journal/writer.ts";
import { Market } from "../../src/simulator/market.ts";
import { MAIN, run } from "../_support/run.ts";
import { withTempDir } from "../_support/temp_dir.ts";

const DATE = "2026-12-02";
const OPEN_MS = istMidnight(DATE) + (9 * 60 + 15) * 60_000;
const DUCKDB = new URL("../_support/duckdb_query.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
/** An index (segment 9), an NSE equity, a currency future (segment 3, ÷1e7), a BSE one. */
const TOKENS = [256265, 408065, 0x4d_0003, 0x12_3406];
const MODES: readonly Mode[] = ["ltp", "quote", "full"];

/** A journal of `steps` messages cycling through the modes; returns the rows expected. */
async function journalOfTicks(dir: string, steps: number): Promise<TickRow[]> {
  let now = OPEN_MS;
  const market = new Market({ now: () => now, random: () => 0.37 });
  const expected: TickRow[] = [];
  await using journal = await createJournalWriter(dir, {
    clock: new FakeClock(OPEN_MS),
    log: () => {},
  });
  for (let step = 0; step < steps; step++) {
    now += 1000;
    market.step(TOKENS);
    const mode = MODES[step % 3]!;
    const ticks: Tick[] = TOKENS.map((token) => market.tick(token, mode));
    const at_us = now * 1000 + step;
    const shard = step % 3;
    journal.append({ kind: "message", at_us, shard, bytes: encode(ticks) });
    // A heartbeat and a lifecycle change add no rows.
    journal.append({ kind: "message", at_us, shard, bytes: new Uint8Array([0]) });
    journal.append({
      kind: "lifecycle",
      at_us,
      shard: 0,
      change: {
        state: "Live",
        since: now,
        fingerprint: null,
        reason: null,
        subscriptions: [{ shard: 0, mode, tokens: TOKENS }],
      },
    });
    for (const tick of ticks) expected.push(tickRow(tick, at_us, shard));
  }
  return expected;
}

async function duckdb(sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const result = await run(Deno.execPath(), [
    "run",
    `--config=${CONFIG}`,
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    DUCKDB,
    sql,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Runs `kitekeeper export` for `journal`, `date` and `format`, plus `more` flags. */
function exportCli(journal: string, date: string, options: { format: string; more?: string[] }) {
  return run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-write",
    MAIN,
    "export",
    ...["--journal", journal, "--date", date, "--format", options.format],
    ...(options.more ?? []),
  ]);
}

/** A row as DuckDB returns it after the query below turned timestamps into epoch numbers. */
function normalized(row: readonly unknown[]): (number | string | boolean | null)[] {
  return row.map((value) =>
    typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  ) as (number | string | boolean | null)[];
}

const EPOCH_SELECT = TICK_COLUMNS.map((column) =>
  column.type === "timestamp_us"
    ? `epoch_us(${column.name})::BIGINT AS ${column.name}`
    : column.type === "timestamp_s"
    ? `(epoch_ms(${column.name}) // 1000)::BIGINT AS ${column.name}`
    : column.name
).join(", ");

Deno.test("export --format parquet: DuckDB reads every tick back, typed, in order", async () => {
  await withTempDir("kitekeeper_export_", async (dir) => {
    const expected = await journalOfTicks(`${dir}/journal`, 30);
    const out = `${dir}/ticks.parquet`;
    const result = await exportCli(`${dir}/journal`, DATE, {
      format: "parquet",
      more: ["--out", out],
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`exported ${expected.length} rows of ${DATE}`));
    const types = await duckdb(`DESCRIBE SELECT * FROM read_parquet('${out}')`);
    const typeOf = Object.fromEntries(types.rows.map((row) => [row[0], row[1]]));
    assert.deepEqual(Object.keys(typeOf), TICK_COLUMNS.map((column) => column.name));
    assert.equal(typeOf.receive_time, "TIMESTAMP WITH TIME ZONE");
    assert.equal(typeOf.exchange_time, "TIMESTAMP WITH TIME ZONE");
    assert.equal(typeOf.instrument_token, "UINTEGER");
    assert.equal(typeOf.last_price, "DOUBLE");
    assert.equal(typeOf.bid1_quantity, "INTEGER");
    const { rows } = await duckdb(`SELECT ${EPOCH_SELECT} FROM read_parquet('${out}')`);
    assert.equal(rows.length, expected.length);
    assert.deepEqual(rows.map(normalized), expected);
    // Full ticks have depth; the rest have none.
    const full = await duckdb(
      `SELECT mode, count(bid5_price), count(*) FROM read_parquet('${out}') GROUP BY mode ORDER BY mode`,
    );
    assert.deepEqual(full.rows.map(normalized), [["full", 30, 40], ["ltp", 0, 40], [
      "quote",
      0,
      40,
    ]]);
  });
});

Deno.test("export --format csv: one header and a row per tick, read the same by DuckDB", async () => {
  await withTempDir("kitekeeper_export_", async (dir) => {
    const expected = await journalOfTicks(`${dir}/journal`, 9);
    const out = `${dir}/ticks.csv`;
    const result = await exportCli(`${dir}/journal`, DATE, { format: "csv", more: ["--out", out] });
    assert.equal(result.code, 0, result.stderr);
    const text = await Deno.readTextFile(out);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[0], TICK_COLUMNS.map((column) => column.name).join(","));
    assert.equal(lines.length, expected.length + 1);
    assert.match(lines[1]!, /^2026-12-02T03:45:01\.000000Z,,0,256265,ltp,false,/);
    // Without --out, the same bytes go to stdout.
    const piped = await exportCli(`${dir}/journal`, DATE, { format: "csv" });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, text);
    const { rows } = await duckdb(`SELECT ${EPOCH_SELECT} FROM read_csv('${out}')`);
    assert.deepEqual(rows.map(normalized), expected);
  });
});

Deno.test("export refuses an unknown date with the dates it has, and a missing directory", async () => {
  await withTempDir("kitekeeper_export_", async (dir) => {
    await journalOfTicks(`${dir}/journal`, 1);
    const unknown = await exportCli(`${dir}/journal`, "2026-12-03", { format: "csv" });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no journal for 2026-12-03 in .*journal; it has 2026-12-02/);
    assert.equal(unknown.stdout, "");
    const missing = await exportCli(`${dir}/nope`, DATE, { format: "csv" });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /journal directory .*nope does not exist/);
    const badFormat = await exportCli(dir, DATE, { format: "xlsx" });
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /expected csv or parquet/);
  });
});

Deno.test("export of a torn journal says where it stops and exports what precedes it", async () => {
  await withTempDir("kitekeeper_export_", async (dir) => {
    const expected = await journalOfTicks(`${dir}/journal`, 6);
    const path = `${dir}/journal/${DATE}.kkj`;
    const whole = await Deno.readFile(path);
    await Deno.writeFile(path, new Uint8Array([...whole, ...whole.slice(16, 60)]));
    const result = await exportCli(`${dir}/journal`, DATE, { format: "csv" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`valid up to byte ${whole.length}, then a block cut short`),
    );
    assert.equal(result.stdout.trimEnd().split("\n").length, expected.length + 1);
  });
});
