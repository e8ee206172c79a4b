/**
 * A tick as one Redis Stream entry: flat string fields any program reads (`XREAD` in Python
 * gives a dict of bytes), and back. Prices are decimal text in rupees (JavaScript's shortest
 * round-trip form, which Python's `float()` reads exactly); times are epoch seconds as Kite
 * sends them, `at` is when the holder received the tick (epoch ms).
 *
 * | field | kinds | meaning |
 * |---|---|---|
 * | token, kind, mode, ltp, at, fence | all | instrument token; `ltp`/`index`/`quote`; `ltp`/`quote`/`full`; last price; received at (ms); the holder's fencing number |
 * | open, high, low, close, change, pct | index, quote | day OHLC; last − close; percent vs close |
 * | last_qty, avg_price, volume, buy_qty, sell_qty | quote | as Kite's quote packet |
 * | ltt, oi, oi_high, oi_low | quote, full mode | last trade time (s); open interest and its day range |
 * | ts | index and quote, full mode | exchange timestamp (s) |
 * | depth | quote, full mode | JSON `{"buy":[[qty,price,orders]×5],"sell":[…]}` |
 *
 * The hash `…:last` holds, per instrument token, the same fields as one text joined by the
 * unit separator ({@linkcode joinFields}).
 *
 * @module
 */
import type { Depth, DepthLevel, Tick } from "../kite/packets.ts";

/** Where a tick came from: when the holder got it and under which fence. */
export interface TickOrigin {
  /** Epoch ms. */
  readonly at: number;
  readonly fence: number;
}

function depthText(depth: Depth): string {
  const side = (levels: readonly DepthLevel[]) =>
    levels.map((level) => [level.quantity, level.price, level.orders]);
  return JSON.stringify({ buy: side(depth.buy), sell: side(depth.sell) });
}

/** The stream fields of `tick`, as `XADD` takes them: `[field, value, field, value, …]`. */
export function tickFields(tick: Tick, origin: TickOrigin): string[] {
  const fields = [
    "token",
    String(tick.instrument_token),
    "kind",
    tick.kind,
    "mode",
    tick.mode,
    "ltp",
    String(tick.last_price),
    "at",
    String(origin.at),
    "fence",
    String(origin.fence),
  ];
  if (tick.kind === "ltp") return fields;
  const { open, high, low, close } = tick.ohlc;
  fields.push("open", String(open), "high", String(high), "low", String(low));
  fields.push("close", String(close), "change", String(tick.net_change));
  fields.push("pct", String(tick.change_percent));
  if (tick.kind === "index") {
    if (tick.mode === "full") fields.push("ts", String(tick.exchange_timestamp));
    return fields;
  }
  fields.push("last_qty", String(tick.last_quantity), "avg_price", String(tick.average_price));
  fields.push("volume", String(tick.volume), "buy_qty", String(tick.buy_quantity));
  fields.push("sell_qty", String(tick.sell_quantity));
  if (tick.mode !== "full") return fields;
  fields.push("ltt", String(tick.last_trade_time), "oi", String(tick.oi));
  fields.push("oi_high", String(tick.oi_day_high), "oi_low", String(tick.oi_day_low));
  fields.push("ts", String(tick.exchange_timestamp), "depth", depthText(tick.depth));
  return fields;
}

/**
 * What separates fields and values in one text (the `…:last` hash's values, the bus's
 * script arguments): the ASCII unit separator, which no field or value holds.
 */
export const FIELD_SEPARATOR = "\x1f";

/** A tick's fields as one text: `token\x1f408065\x1fkind\x1fquote…`. */
export function joinFields(fields: readonly string[]): string {
  return fields.join(FIELD_SEPARATOR);
}

/** One text of {@linkcode joinFields} back as a record. */
export function splitFields(text: string): Record<string, string> {
  return fieldRecord(text.split(FIELD_SEPARATOR));
}

/** A stream entry's fields as a record: from `[f, v, f, v, …]`. */
export function fieldRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}

function levelsFrom(value: unknown): DepthLevel[] | null {
  if (!Array.isArray(value)) return null;
  const levels: DepthLevel[] = [];
  for (const level of value) {
    if (!Array.isArray(level) || level.length !== 3 || !level.every(Number.isFinite)) return null;
    levels.push({ quantity: level[0], price: level[1], orders: level[2] });
  }
  return levels;
}

function parseDepth(text: string | undefined): Depth | null {
  if (text === undefined) return { buy: [], sell: [] };
  try {
    const value = JSON.parse(text) as { buy?: unknown; sell?: unknown };
    const buy = levelsFrom(value.buy);
    const sell = levelsFrom(value.sell);
    return buy === null || sell === null ? null : { buy, sell };
  } catch {
    return null;
  }
}

/**
 * The tick and its origin back from stream fields; `null` for an entry that is not a tick
 * this version wrote (a missing or unreadable field).
 */
export function tickFromFields(
  fields: Readonly<Record<string, string>>,
): { tick: Tick; origin: TickOrigin } | null {
  const number = (name: string, fallback?: number): number => {
    const text = fields[name];
    if (text === undefined && fallback !== undefined) return fallback;
    const value = Number(text);
    if (text === undefined || text === "" || !Number.isFinite(value)) throw new SyntaxError(name);
    return value;
  };
  try {
    const instrument_token = number("token");
    const origin = { at: number("at"), fence: number("fence") };
    const base = {
      instrument_token,
      tradable: (instrument_token & 0xff) !== 9,
      last_price: number("ltp"),
    };
    const kind = fields.kind;
    const mode = fields.mode;
    if (kind === "ltp" && mode === "ltp") return { tick: { kind, mode, ...base }, origin };
    if (mode !== "quote" && mode !== "full") return null;
    const ohlc = {
      open: number("open"),
      high: number("high"),
      low: number("low"),
      close: number("close"),
    };
    const changes = { net_change: number("change"), change_percent: number("pct") };
    if (kind === "index") {
      const exchange_timestamp = number("ts", 0);
      return { tick: { kind, mode, ...base, ohlc, ...changes, exchange_timestamp }, origin };
    }
    if (kind !== "quote") return null;
    const depth = parseDepth(fields.depth);
    if (depth === null) return null;
    const tick: Tick = {
      kind,
      mode,
      ...base,
      ohlc,
      ...changes,
      last_quantity: number("last_qty"),
      average_price: number("avg_price"),
      volume: number("volume"),
      buy_quantity: number("buy_qty"),
      sell_quantity: number("sell_qty"),
      last_trade_time: number("ltt", 0),
      oi: number("oi", 0),
      oi_day_high: number("oi_high", 0),
      oi_day_low: number("oi_low", 0),
      exchange_timestamp: number("ts", 0),
      depth,
    };
    return { tick, origin };
  } catch {
    return null;
  }
}
