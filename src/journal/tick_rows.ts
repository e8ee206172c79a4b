/**
 * The journal as a table: one row per tick, in the order the ticks arrived, for export.
 * Columns are fixed, whatever modes the day holds; a field a packet does not carry is null
 * (an ltp packet has only its price; depth is there for full quote packets only). Every
 * integer on Kite's wire is an int32 (the instrument token a uint32), and so is its column.
 *
 * @module
 */
import { decode, type Tick } from "../kite/packets.ts";
import type { JournalRecord } from "./record.ts";

/** How a column is typed in Parquet (CSV writes every one as text). */
export type ColumnType =
  | "timestamp_us"
  | "timestamp_s"
  | "int32"
  | "uint32"
  | "double"
  | "string"
  | "bool";

/** One column: its name and type. */
export interface TickColumn {
  readonly name: string;
  readonly type: ColumnType;
}

/** A row's values, in {@linkcode TICK_COLUMNS} order; timestamps as numbers in their unit. */
export type TickRow = (number | string | boolean | null)[];

const DEPTH_COLUMNS: TickColumn[] = (["bid", "ask"] as const).flatMap((side) =>
  [1, 2, 3, 4, 5].flatMap((level) => [
    { name: `${side}${level}_price`, type: "double" as const },
    { name: `${side}${level}_quantity`, type: "int32" as const },
    { name: `${side}${level}_orders`, type: "int32" as const },
  ])
);

/** Every column of an exported tick, in order. */
export const TICK_COLUMNS: readonly TickColumn[] = Object.freeze([
  { name: "receive_time", type: "timestamp_us" },
  { name: "exchange_time", type: "timestamp_s" },
  { name: "shard", type: "int32" },
  { name: "instrument_token", type: "uint32" },
  { name: "mode", type: "string" },
  { name: "tradable", type: "bool" },
  { name: "last_price", type: "double" },
  { name: "last_quantity", type: "int32" },
  { name: "average_price", type: "double" },
  { name: "volume", type: "int32" },
  { name: "buy_quantity", type: "int32" },
  { name: "sell_quantity", type: "int32" },
  { name: "open", type: "double" },
  { name: "high", type: "double" },
  { name: "low", type: "double" },
  { name: "close", type: "double" },
  { name: "net_change", type: "double" },
  { name: "change_percent", type: "double" },
  { name: "last_trade_time", type: "timestamp_s" },
  { name: "oi", type: "int32" },
  { name: "oi_day_high", type: "int32" },
  { name: "oi_day_low", type: "int32" },
  ...DEPTH_COLUMNS,
]);

// Where each group of fields starts in a row (see TICK_COLUMNS).
const QUANTITIES = 7; // last_quantity, average_price, volume, buy_quantity, sell_quantity
const PRICES = 12; // open, high, low, close, net_change, change_percent
const FULL_ONLY = 18; // last_trade_time, oi, oi_day_high, oi_day_low
const DEPTH = 22;

function timeOrNull(seconds: number): number | null {
  return seconds === 0 ? null : seconds;
}

/** The row of `tick`, received at `atUs` on `shard`. */
export function tickRow(tick: Tick, atUs: number, shard: number): TickRow {
  // Filled in place: a row is built per tick, millions a day.
  const row: TickRow = new Array(TICK_COLUMNS.length).fill(null);
  row[0] = atUs;
  row[2] = shard;
  row[3] = tick.instrument_token;
  row[4] = tick.mode;
  row[5] = tick.tradable;
  row[6] = tick.last_price;
  if (tick.kind === "ltp") return row;
  row[1] = timeOrNull(tick.exchange_timestamp);
  const { ohlc } = tick;
  row[PRICES] = ohlc.open;
  row[PRICES + 1] = ohlc.high;
  row[PRICES + 2] = ohlc.low;
  row[PRICES + 3] = ohlc.close;
  row[PRICES + 4] = tick.net_change;
  row[PRICES + 5] = tick.change_percent;
  if (tick.kind === "index") return row;
  row[QUANTITIES] = tick.last_quantity;
  row[QUANTITIES + 1] = tick.average_price;
  row[QUANTITIES + 2] = tick.volume;
  row[QUANTITIES + 3] = tick.buy_quantity;
  row[QUANTITIES + 4] = tick.sell_quantity;
  if (tick.mode !== "full") return row;
  row[FULL_ONLY] = timeOrNull(tick.last_trade_time);
  row[FULL_ONLY + 1] = tick.oi;
  row[FULL_ONLY + 2] = tick.oi_day_high;
  row[FULL_ONLY + 3] = tick.oi_day_low;
  let at = DEPTH;
  for (const side of [tick.depth.buy, tick.depth.sell]) {
    for (const level of side) {
      row[at++] = level.price;
      row[at++] = level.quantity;
      row[at++] = level.orders;
    }
  }
  return row;
}

/** The rows of a journal record: one per tick of a message, none for anything else. */
export function recordRows(record: JournalRecord): TickRow[] {
  if (record.kind !== "message") return [];
  const decoded = decode(record.bytes);
  if (decoded.kind !== "ticks") return [];
  return decoded.ticks.map((tick) => tickRow(tick, record.at_us, record.shard));
}
