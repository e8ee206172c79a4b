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

const NO_DEPTH: readonly null[] = Object.freeze(DEPTH_COLUMNS.map(() => null));
// 22 columns before the depth: an ltp packet fills the first 7.
const AFTER_LTP: readonly null[] = Object.freeze(Array(15).fill(null));

function timeOrNull(seconds: number): number | null {
  return seconds === 0 ? null : seconds;
}

/** The row of `tick`, received at `atUs` on `shard`. */
export function tickRow(tick: Tick, atUs: number, shard: number): TickRow {
  const head = [
    atUs,
    null,
    shard,
    tick.instrument_token,
    tick.mode,
    tick.tradable,
    tick.last_price,
  ];
  if (tick.kind === "ltp") return [...head, ...AFTER_LTP, ...NO_DEPTH];
  const { ohlc } = tick;
  head[1] = timeOrNull(tick.exchange_timestamp);
  const prices = [ohlc.open, ohlc.high, ohlc.low, ohlc.close, tick.net_change, tick.change_percent];
  if (tick.kind === "index") {
    return [...head, null, null, null, null, null, ...prices, null, null, null, null, ...NO_DEPTH];
  }
  const full = tick.mode === "full";
  const depth = full
    ? [...tick.depth.buy, ...tick.depth.sell].flatMap((level) => [
      level.price,
      level.quantity,
      level.orders,
    ])
    : NO_DEPTH;
  return [
    ...head,
    tick.last_quantity,
    tick.average_price,
    tick.volume,
    tick.buy_quantity,
    tick.sell_quantity,
    ...prices,
    full ? timeOrNull(tick.last_trade_time) : null,
    full ? tick.oi : null,
    full ? tick.oi_day_high : null,
    full ? tick.oi_day_low : null,
    ...depth,
  ];
}

/** The rows of a journal record: one per tick of a message, none for anything else. */
export function recordRows(record: JournalRecord): TickRow[] {
  if (record.kind !== "message") return [];
  const decoded = decode(record.bytes);
  if (decoded.kind !== "ticks") return [];
  return decoded.ticks.map((tick) => tickRow(tick, record.at_us, record.shard));
}
