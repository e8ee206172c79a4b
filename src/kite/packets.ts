/**
 * The Kite ticker's binary wire format: decode for the daemon, encode for the simulator.
 *
 * A binary message is an int16 packet count, then per packet an int16 length and the body,
 * all big-endian. A message shorter than 2 bytes is a heartbeat (Kite sends 1 byte).
 * Bodies are 8 (ltp), 28 (index quote), 32 (index full), 44 (quote) or 184 (full) bytes.
 *
 * Numbers are read the way the official JS client (npm `kiteconnect`, `parseBinary`) reads
 * them, so the two agree value for value: int32 fields are signed, int16 fields (lengths,
 * depth orders) unsigned. The instrument token is the one exception: it is an identifier,
 * so it is read unsigned as gokiteconnect does (the JS client would turn a token ≥ 2³¹
 * negative; Kite's tokens are all below that, where both agree). Prices are divided by the
 * segment's divisor (token & 0xff: 3 CDS ÷1e7, 6 BCD ÷1e4, others ÷100); segment 9 is
 * indices, not tradable. Timestamps are epoch seconds; 0 where absent.
 *
 * Two changes are reported, by name:
 * - `net_change` is gokiteconnect's `change`: last_price - close, always (so it equals
 *   last_price when close is 0).
 * - `change_percent` is the JS client's `change`: (last_price - close) * 100 / close when
 *   close is not 0. When close is 0 it is 0 for quote/full packets, and for index packets
 *   the raw int32 at offset 24 (undivided), exactly as `parseBinary` does.
 *
 * @module
 */

/** Subscription mode of an instrument, as named in Kite's `mode` request. */
export type Mode = "ltp" | "quote" | "full";

/** One level of market depth. */
export interface DepthLevel {
  readonly quantity: number;
  readonly price: number;
  readonly orders: number;
}

/** Open, high, low and close of the day. */
export interface Ohlc {
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

/** Five bids and five offers (full mode), or two empty lists. */
export interface Depth {
  readonly buy: readonly DepthLevel[];
  readonly sell: readonly DepthLevel[];
}

/** An 8-byte packet: the last traded price only. */
export interface LtpTick {
  readonly kind: "ltp";
  readonly mode: "ltp";
  readonly instrument_token: number;
  readonly tradable: boolean;
  readonly last_price: number;
}

/** A 28-byte (quote) or 32-byte (full) packet of an index (segment 9). */
export interface IndexTick {
  readonly kind: "index";
  readonly mode: "quote" | "full";
  readonly instrument_token: number;
  readonly tradable: boolean;
  readonly last_price: number;
  readonly ohlc: Ohlc;
  /** gokiteconnect's `change`: last_price - close. */
  readonly net_change: number;
  /** The JS client's `change`: percent vs close; the raw int32 at offset 24 when close is 0. */
  readonly change_percent: number;
  /** Epoch seconds; full mode only, 0 when absent. */
  readonly exchange_timestamp: number;
}

/** A 44-byte (quote) or 184-byte (full) packet of a tradable instrument. */
export interface QuoteTick {
  readonly kind: "quote";
  readonly mode: "quote" | "full";
  readonly instrument_token: number;
  readonly tradable: boolean;
  readonly last_price: number;
  readonly last_quantity: number;
  readonly average_price: number;
  readonly volume: number;
  readonly buy_quantity: number;
  readonly sell_quantity: number;
  readonly ohlc: Ohlc;
  /** gokiteconnect's `change`: last_price - close. */
  readonly net_change: number;
  /** The JS client's `change`: (last_price - close) * 100 / close, 0 when close is 0. */
  readonly change_percent: number;
  /** Full mode only (0 otherwise): epoch seconds. */
  readonly last_trade_time: number;
  /** Full mode only (0 otherwise). */
  readonly oi: number;
  /** Full mode only (0 otherwise). */
  readonly oi_day_high: number;
  /** Full mode only (0 otherwise). */
  readonly oi_day_low: number;
  /** Full mode only (0 otherwise): epoch seconds. */
  readonly exchange_timestamp: number;
  /** Full mode only (empty otherwise): 5 bids and 5 offers. */
  readonly depth: Depth;
}

/** Any decoded tick. */
export type Tick = LtpTick | IndexTick | QuoteTick;

/**
 * What one binary message holds. `errors` counts malformed parts: a packet of unknown
 * length (skipped, decoding goes on), a count or length running past the end (decoding
 * stops there), bytes left over after the counted packets. `ticks` holds every
 * well-formed packet before the first structural break.
 */
export type Decoded =
  | { readonly kind: "heartbeat" }
  | { readonly kind: "ticks"; readonly ticks: Tick[]; readonly errors: number };

/** A text (JSON) message from the ticker, by its `type`. */
export type TextMessage =
  | { readonly type: "order"; readonly data: unknown }
  | { readonly type: "error"; readonly data: unknown }
  | { readonly type: "message"; readonly data: unknown }
  /** Valid JSON with a string `type` this module does not know. */
  | { readonly type: "unknown"; readonly message_type: string; readonly data: unknown }
  /** Not JSON, or not an object with a string `type`. */
  | { readonly type: "invalid"; readonly reason: string };

/** Packet body lengths in bytes. */
export const PACKET_LENGTH = Object.freeze({
  ltp: 8,
  index_quote: 28,
  index_full: 32,
  quote: 44,
  full: 184,
});

/** The currency derivatives segment (token & 0xff): prices in units of 1e-7 rupee. */
export const SEGMENT_CDS = 3;
/** BSE currency derivatives (token & 0xff): prices in units of 1e-4 rupee. */
export const SEGMENT_BCD = 6;
/** Indices (token & 0xff): not tradable. */
export const SEGMENT_INDICES = 9;
const DEPTH_OFFSET = 64;
const DEPTH_LEVEL_BYTES = 12;
const DEPTH_LEVELS_PER_SIDE = 5;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const UINT16_MAX = 0xffff;

const NO_LEVELS: readonly DepthLevel[] = Object.freeze([]);
const NO_DEPTH: Depth = Object.freeze({ buy: NO_LEVELS, sell: NO_LEVELS });
const HEARTBEAT: Decoded = Object.freeze({ kind: "heartbeat" });

/** Units per rupee in `token`'s packets: 1e7 (CDS), 1e4 (BCD), else 100. */
export function divisorOf(token: number): number {
  const segment = token & 0xff;
  if (segment === SEGMENT_CDS) return 10000000;
  if (segment === SEGMENT_BCD) return 10000;
  return 100;
}

function changePercent(lastPrice: number, close: number): number {
  // Same expression, same order as parseBinary, so the floats agree bit for bit.
  return (lastPrice - close) * 100 / close;
}

function readLevel(view: DataView, at: number, divisor: number): DepthLevel {
  return {
    quantity: view.getInt32(at),
    price: view.getInt32(at + 4) / divisor,
    orders: view.getUint16(at + 8),
  };
}

function readSide(view: DataView, at: number, divisor: number): DepthLevel[] {
  return [
    readLevel(view, at, divisor),
    readLevel(view, at + 12, divisor),
    readLevel(view, at + 24, divisor),
    readLevel(view, at + 36, divisor),
    readLevel(view, at + 48, divisor),
  ];
}

function readIndex(view: DataView, at: number, token: number, mode: "quote" | "full"): IndexTick {
  const full = mode === "full";
  const divisor = divisorOf(token);
  const lastPrice = view.getInt32(at + 4) / divisor;
  const rawClose = view.getInt32(at + 20);
  const close = rawClose / divisor;
  return {
    kind: "index",
    mode,
    instrument_token: token,
    tradable: (token & 0xff) !== SEGMENT_INDICES,
    last_price: lastPrice,
    ohlc: {
      open: view.getInt32(at + 16) / divisor,
      high: view.getInt32(at + 8) / divisor,
      low: view.getInt32(at + 12) / divisor,
      close,
    },
    net_change: lastPrice - close,
    change_percent: rawClose === 0 ? view.getInt32(at + 24) : changePercent(lastPrice, close),
    exchange_timestamp: full ? view.getInt32(at + 28) : 0,
  };
}

function readQuote(view: DataView, at: number, token: number, mode: "quote" | "full"): QuoteTick {
  const full = mode === "full";
  const divisor = divisorOf(token);
  const lastPrice = view.getInt32(at + 4) / divisor;
  const rawClose = view.getInt32(at + 40);
  const close = rawClose / divisor;
  return {
    kind: "quote",
    mode,
    instrument_token: token,
    tradable: (token & 0xff) !== SEGMENT_INDICES,
    last_price: lastPrice,
    last_quantity: view.getInt32(at + 8),
    average_price: view.getInt32(at + 12) / divisor,
    volume: view.getInt32(at + 16),
    buy_quantity: view.getInt32(at + 20),
    sell_quantity: view.getInt32(at + 24),
    ohlc: {
      open: view.getInt32(at + 28) / divisor,
      high: view.getInt32(at + 32) / divisor,
      low: view.getInt32(at + 36) / divisor,
      close,
    },
    net_change: lastPrice - close,
    change_percent: rawClose === 0 ? 0 : changePercent(lastPrice, close),
    last_trade_time: full ? view.getInt32(at + 44) : 0,
    oi: full ? view.getInt32(at + 48) : 0,
    oi_day_high: full ? view.getInt32(at + 52) : 0,
    oi_day_low: full ? view.getInt32(at + 56) : 0,
    exchange_timestamp: full ? view.getInt32(at + 60) : 0,
    depth: full
      ? {
        buy: readSide(view, at + DEPTH_OFFSET, divisor),
        sell: readSide(
          view,
          at + DEPTH_OFFSET + DEPTH_LEVELS_PER_SIDE * DEPTH_LEVEL_BYTES,
          divisor,
        ),
      }
      : NO_DEPTH,
  };
}

/** Reads one packet body of `length` bytes at `at`; undefined when the length is unknown. */
function readPacket(view: DataView, at: number, length: number): Tick | undefined {
  const token = view.getUint32(at);
  switch (length) {
    case PACKET_LENGTH.ltp:
      return {
        kind: "ltp",
        mode: "ltp",
        instrument_token: token,
        tradable: (token & 0xff) !== SEGMENT_INDICES,
        last_price: view.getInt32(at + 4) / divisorOf(token),
      };
    case PACKET_LENGTH.index_quote:
      return readIndex(view, at, token, "quote");
    case PACKET_LENGTH.index_full:
      return readIndex(view, at, token, "full");
    case PACKET_LENGTH.quote:
      return readQuote(view, at, token, "quote");
    case PACKET_LENGTH.full:
      return readQuote(view, at, token, "full");
    default:
      return undefined;
  }
}

/**
 * Decodes one binary WebSocket message. Never throws and never reads past the end: a
 * malformed message yields the ticks decoded before the fault and a count of errors.
 *
 * @example
 * ```ts
 * const decoded = decode(new Uint8Array(event.data));
 * if (decoded.kind === "ticks") for (const tick of decoded.ticks) use(tick);
 * ```
 */
export function decode(message: ArrayBuffer | Uint8Array): Decoded {
  const view = message instanceof Uint8Array
    ? new DataView(message.buffer, message.byteOffset, message.byteLength)
    : new DataView(message);
  const end = view.byteLength;
  if (end < 2) return HEARTBEAT;
  const count = view.getUint16(0);
  const ticks: Tick[] = [];
  let errors = 0;
  let at = 2;
  for (let n = 0; n < count; n++) {
    if (at + 2 > end) {
      errors++;
      return { kind: "ticks", ticks, errors };
    }
    const length = view.getUint16(at);
    at += 2;
    if (at + length > end) {
      errors++;
      return { kind: "ticks", ticks, errors };
    }
    // Lengths shorter than 4 cannot hold a token; readPacket only sees known lengths.
    const tick = length >= 4 ? readPacket(view, at, length) : undefined;
    if (tick === undefined) errors++;
    else ticks.push(tick);
    at += length;
  }
  if (at !== end) errors++;
  return { kind: "ticks", ticks, errors };
}

function bodyLength(tick: Tick): number {
  switch (tick.kind) {
    case "ltp":
      return PACKET_LENGTH.ltp;
    case "index":
      return tick.mode === "full" ? PACKET_LENGTH.index_full : PACKET_LENGTH.index_quote;
    case "quote":
      return tick.mode === "full" ? PACKET_LENGTH.full : PACKET_LENGTH.quote;
  }
}

/** Writes an int32, refusing what would wrap silently. */
function putInt32(view: DataView, at: number, value: number, what: string): void {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new RangeError(`Failed to encode tick: ${what} ${value} is not an int32`);
  }
  view.setInt32(at, value);
}

function putPrice(view: DataView, at: number, price: number, divisor: number, what: string) {
  putInt32(view, at, Math.round(price * divisor), what);
}

function putUint16(view: DataView, at: number, value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > UINT16_MAX) {
    throw new RangeError(`Failed to encode tick: ${what} ${value} is not a uint16`);
  }
  view.setUint16(at, value);
}

function putSide(view: DataView, at: number, levels: readonly DepthLevel[], divisor: number) {
  // Missing levels stay zero, as Kite sends them for thin books.
  const n = Math.min(levels.length, DEPTH_LEVELS_PER_SIDE);
  for (let i = 0; i < n; i++) {
    const level = levels[i] as DepthLevel;
    const base = at + i * DEPTH_LEVEL_BYTES;
    putInt32(view, base, level.quantity, "depth quantity");
    putPrice(view, base + 4, level.price, divisor, "depth price");
    putUint16(view, base + 8, level.orders, "depth orders");
  }
}

function writeTick(view: DataView, at: number, tick: Tick): void {
  const token = tick.instrument_token;
  if (!Number.isInteger(token) || token < 0 || token > 0xffffffff) {
    throw new RangeError(`Failed to encode tick: instrument_token ${token} is not a uint32`);
  }
  view.setUint32(at, token);
  const divisor = divisorOf(token);
  putPrice(view, at + 4, tick.last_price, divisor, "last_price");
  if (tick.kind === "ltp") return;
  if (tick.kind === "index") {
    putPrice(view, at + 8, tick.ohlc.high, divisor, "high");
    putPrice(view, at + 12, tick.ohlc.low, divisor, "low");
    putPrice(view, at + 16, tick.ohlc.open, divisor, "open");
    putPrice(view, at + 20, tick.ohlc.close, divisor, "close");
    // Decoders read offset 24 only when close is 0 (the JS client's `change`); otherwise
    // send the raw price change, which is what Kite's docs call the field (wraps if huge).
    const rawClose = view.getInt32(at + 20);
    if (rawClose === 0) putInt32(view, at + 24, tick.change_percent, "change_percent");
    else view.setInt32(at + 24, view.getInt32(at + 4) - rawClose);
    if (tick.mode === "full") putInt32(view, at + 28, tick.exchange_timestamp, "timestamp");
    return;
  }
  putInt32(view, at + 8, tick.last_quantity, "last_quantity");
  putPrice(view, at + 12, tick.average_price, divisor, "average_price");
  putInt32(view, at + 16, tick.volume, "volume");
  putInt32(view, at + 20, tick.buy_quantity, "buy_quantity");
  putInt32(view, at + 24, tick.sell_quantity, "sell_quantity");
  putPrice(view, at + 28, tick.ohlc.open, divisor, "open");
  putPrice(view, at + 32, tick.ohlc.high, divisor, "high");
  putPrice(view, at + 36, tick.ohlc.low, divisor, "low");
  putPrice(view, at + 40, tick.ohlc.close, divisor, "close");
  if (tick.mode !== "full") return;
  putInt32(view, at + 44, tick.last_trade_time, "last_trade_time");
  putInt32(view, at + 48, tick.oi, "oi");
  putInt32(view, at + 52, tick.oi_day_high, "oi_day_high");
  putInt32(view, at + 56, tick.oi_day_low, "oi_day_low");
  putInt32(view, at + 60, tick.exchange_timestamp, "exchange_timestamp");
  putSide(view, at + DEPTH_OFFSET, tick.depth.buy, divisor);
  putSide(
    view,
    at + DEPTH_OFFSET + DEPTH_LEVELS_PER_SIDE * DEPTH_LEVEL_BYTES,
    tick.depth.sell,
    divisor,
  );
}

/**
 * Encodes ticks as one binary message, the way Kite sends them. The packet length follows
 * `kind` and `mode`; prices are scaled by the segment's divisor and rounded. Derived fields
 * (`net_change`, `change_percent` unless an index's close is 0) are not sent: `decode`
 * recomputes them. `decode(encode(ticks))` deep-equals `ticks` when they are consistent.
 *
 * @throws {RangeError} when a value does not fit its field, or there are over 65535 ticks.
 */
export function encode(ticks: readonly Tick[]): Uint8Array<ArrayBuffer> {
  if (ticks.length > UINT16_MAX) {
    throw new RangeError(`Failed to encode ticks: ${ticks.length} exceeds 65535 packets`);
  }
  let size = 2;
  for (const tick of ticks) size += 2 + bodyLength(tick);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, ticks.length);
  let at = 2;
  for (const tick of ticks) {
    const length = bodyLength(tick);
    view.setUint16(at, length);
    writeTick(view, at + 2, tick);
    at += 2 + length;
  }
  return bytes;
}

/**
 * Frames packet bodies as one binary message: int16 count, then int16 length + body each.
 * For bodies already encoded (a cached packet, a cut of one, or bytes `encode` would never
 * write).
 *
 * @throws {RangeError} for more than 65535 bodies or a body longer than 65535 bytes.
 */
export function frameBodies(bodies: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (bodies.length > UINT16_MAX) {
    throw new RangeError(`Failed to frame packets: ${bodies.length} exceeds 65535 packets`);
  }
  let size = 2;
  for (const body of bodies) {
    if (body.byteLength > UINT16_MAX) {
      throw new RangeError(`Failed to frame packets: a body of ${body.byteLength} bytes`);
    }
    size += 2 + body.byteLength;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, bodies.length);
  let at = 2;
  for (const body of bodies) {
    view.setUint16(at, body.byteLength);
    bytes.set(body, at + 2);
    at += 2 + body.byteLength;
  }
  return bytes;
}

/** A heartbeat message: the single byte Kite sends about once a second. */
export function encodeHeartbeat(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(1);
}

const TEXT_TYPES: ReadonlySet<string> = new Set(["order", "error", "message"]);

/**
 * Parses a text message from the ticker (`{"type": "order"|"error"|"message", "data": …}`).
 * Never throws: what is not such an object comes back as `invalid` or `unknown`.
 */
export function parseTextMessage(text: string): TextMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { type: "invalid", reason: `Failed to parse text message: ${detail}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { type: "invalid", reason: "Failed to parse text message: not a JSON object" };
  }
  const record = value as Record<string, unknown>;
  const type = record["type"];
  if (typeof type !== "string") {
    return { type: "invalid", reason: "Failed to parse text message: no string type" };
  }
  const data = record["data"];
  if (TEXT_TYPES.has(type)) {
    return { type: type as "order" | "error" | "message", data };
  }
  return { type: "unknown", message_type: type, data };
}
