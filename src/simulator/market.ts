/**
 * The simulator's market: a random walk per known instrument, and its packet in each mode.
 *
 * Prices are kept as integers in the segment's smallest unit (paise for ÷100 segments), so
 * every price is exactly representable on the wire and `decode(encode(tick))` gives back the
 * same numbers. Indices (segment 9) become index packets; everything else quote packets with
 * five levels of depth. The instrument list ({@linkcode SIM_INSTRUMENTS}) says what the
 * ticker serves ({@linkcode Market.knows}); any other token still gets a plausible quote
 * here, so tests can make ticks of whatever token they need, but the ticker never sends it.
 *
 * Each instrument's full packet is encoded once per change and kept; a lower mode is a byte
 * prefix of it (full 184 → quote 44 → ltp 8; index full 32 → quote 28 → ltp 8), so serving
 * 9000 instruments to three sockets costs one encode per change, not one per socket.
 *
 * With `hours: "nse"` prices move only while NSE is in pre-open order entry or open
 * (`src/market/phase.ts`); the rest of the day nothing changes, so sockets get heartbeats
 * and the cached tick a subscribe asks for, as on Kite after hours.
 *
 * @module
 */
import {
  divisorOf,
  encode,
  type IndexTick,
  type LtpTick,
  type Mode,
  type QuoteTick,
  SEGMENT_BCD,
  SEGMENT_CDS,
  SEGMENT_INDICES,
  type Tick,
} from "../kite/packets.ts";
import { nseHolidays2026 } from "../market/holidays_nse_2026.ts";
import { type MarketPhase, marketPhase } from "../market/phase.ts";
import { SIM_INSTRUMENTS, type SimInstrument } from "./instruments.ts";

/** A source of uniform random numbers in [0, 1). */
export type Random = () => number;

/** When prices move: always (the default, for the demo and tests) or in NSE's hours. */
export type MarketHours = "always" | "nse";

/** How to build a {@linkcode Market}. */
export interface MarketOptions {
  /** Epoch milliseconds: tick timestamps and, with `hours: "nse"`, the phase. */
  readonly now: () => number;
  /** Drives the walk; defaults to `Math.random`. */
  readonly random?: Random;
  /** Defaults to "always". */
  readonly hours?: MarketHours;
  /** Trading holidays (ISO dates, IST) for `hours: "nse"`; defaults to NSE's 2026 list. */
  readonly holidays?: ReadonlySet<string>;
  /** Defaults to {@linkcode SIM_INSTRUMENTS}. */
  readonly instruments?: readonly SimInstrument[];
}

interface Quote {
  readonly token: number;
  readonly index: boolean;
  /** Units per rupee: 100, or 1e7 (CDS), 1e4 (BCD). */
  readonly divisor: number;
  /** Price step in units (tick size). */
  readonly step: number;
  /** Prices in units. */
  last: number;
  readonly open: number;
  high: number;
  low: number;
  readonly close: number;
  lastQuantity: number;
  volume: number;
  turnover: number;
  buyQuantity: number;
  sellQuantity: number;
  lastTradeTime: number;
  /** The full packet's body, encoded on first use after a change. */
  packet: Uint8Array | undefined;
}

/** Probability that an instrument's price moves on a given tick ("most ticks change"). */
const MOVE_PROBABILITY = 0.85;
/** Standard deviation of one move, relative to the price. */
const MOVE_SCALE = 0.0004;
/** Bytes before a packet body in a one-packet message: count and length. */
const MESSAGE_HEADER = 4;
/** Body bytes each mode keeps of a full packet. */
const PREFIX: Readonly<Record<Mode, { quote: number; index: number }>> = Object.freeze({
  ltp: { quote: 8, index: 8 },
  quote: { quote: 44, index: 28 },
  full: { quote: 184, index: 32 },
});
/** NSE phases in which prices move: pre-open order entry and the regular session. */
const MOVING_PHASES: ReadonlySet<string> = new Set(["pre_open", "open"]);

/** Tick size in units: ₹0.01 for indices, ₹0.0025 for currency, ₹0.05 otherwise. */
function stepOf(token: number, divisor: number): number {
  const segment = token & 0xff;
  if (segment === SEGMENT_INDICES) return 1;
  if (segment === SEGMENT_CDS || segment === SEGMENT_BCD) return divisor / 400;
  return 5;
}

/** A plausible level for a token the list does not name: stable per token, ₹50–₹5000 (₹70–₹100 FX). */
function levelOf(token: number): number {
  const segment = token & 0xff;
  if (segment === SEGMENT_CDS || segment === SEGMENT_BCD) return 70 + (token >>> 8) % 30;
  return 50 + ((token >>> 8) * 7919) % 4950;
}

function gaussian(random: Random): number {
  // Box–Muller; 1 - random() keeps log() away from 0.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function roundToStep(units: number, step: number): number {
  return Math.max(step, Math.round(units / step) * step);
}

/** Known instruments that move on each {@linkcode Market.step}. */
export class Market {
  #catalog: ReadonlyMap<number, SimInstrument>;
  /** Quotes made so far: an instrument gets one the first time it is asked for. */
  #quotes = new Map<number, Quote>();
  #random: Random;
  #now: () => number;
  #hours: MarketHours;
  #holidays: ReadonlySet<string>;
  #phase: MarketPhase | undefined;
  #phaseAt = 0;

  /** See {@linkcode MarketOptions}. */
  constructor(options: MarketOptions) {
    this.#now = options.now;
    this.#random = options.random ?? Math.random;
    this.#hours = options.hours ?? "always";
    this.#holidays = options.holidays ?? nseHolidays2026();
    const instruments = options.instruments ?? SIM_INSTRUMENTS;
    this.#catalog = new Map(instruments.map((item) => [item.instrument_token, item]));
  }

  /** Whether `token` is an instrument this market ticks. */
  knows(token: number): boolean {
    return this.#catalog.has(token);
  }

  /** Whether prices move now; reads the clock only under NSE hours. */
  movingNow(): boolean {
    return this.#hours === "always" || this.moving(this.#now());
  }

  /** Whether prices move at `now` (epoch ms): always, or in NSE's pre-open and open. */
  moving(now: number): boolean {
    if (this.#hours === "always") return true;
    // The phase holds until its next change; an injected clock may also step back.
    let phase = this.#phase;
    if (phase === undefined || now >= phase.next_change || now < this.#phaseAt) {
      phase = this.#phase = marketPhase(now, { holidays: this.#holidays });
      this.#phaseAt = now;
    }
    return MOVING_PHASES.has(phase.phase);
  }

  #get(token: number): Quote {
    const existing = this.#quotes.get(token);
    if (existing !== undefined) return existing;
    const divisor = divisorOf(token);
    const step = stepOf(token, divisor);
    const level = this.#catalog.get(token)?.level ?? levelOf(token);
    const close = roundToStep(level * divisor, step);
    const last = roundToStep(close * (1 + gaussian(this.#random) * 0.005), step);
    const index = (token & 0xff) === SEGMENT_INDICES;
    const volume = index ? 0 : 10000 + Math.floor(this.#random() * 1000000);
    const quote: Quote = {
      token,
      index,
      divisor,
      step,
      last,
      open: close,
      high: Math.max(close, last),
      low: Math.min(close, last),
      close,
      lastQuantity: index ? 0 : 1 + Math.floor(this.#random() * 100),
      volume,
      turnover: volume * last,
      buyQuantity: index ? 0 : Math.floor(this.#random() * 200000),
      sellQuantity: index ? 0 : Math.floor(this.#random() * 200000),
      lastTradeTime: this.#seconds(),
      packet: undefined,
    };
    this.#quotes.set(token, quote);
    return quote;
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /**
   * Moves each of `tokens` one random step if the market is moving at `now` (default: the
   * clock's now); returns those whose price changed.
   */
  step(tokens: Iterable<number>, now: number = this.#now()): number[] {
    const changed: number[] = [];
    if (!this.moving(now)) return changed;
    const seconds = Math.floor(now / 1000);
    for (const token of tokens) {
      const item = this.#get(token);
      if (this.#random() >= MOVE_PROBABILITY) continue;
      const move = gaussian(this.#random) * item.last * MOVE_SCALE;
      // At least one step, so a move is a change.
      const steps = Math.sign(move || 1) * Math.max(1, Math.round(Math.abs(move) / item.step));
      const next = Math.max(item.step, item.last + steps * item.step);
      if (next === item.last) continue;
      item.last = next;
      item.high = Math.max(item.high, next);
      item.low = Math.min(item.low, next);
      if (!item.index) {
        item.lastQuantity = 1 + Math.floor(this.#random() * 100);
        item.volume += item.lastQuantity;
        item.turnover += item.lastQuantity * next;
        item.buyQuantity = Math.floor(this.#random() * 200000);
        item.sellQuantity = Math.floor(this.#random() * 200000);
        item.lastTradeTime = seconds;
      }
      item.packet = undefined;
      changed.push(token);
    }
    return changed;
  }

  /** The current packet body of `token` in `mode` (a view: do not modify). */
  packet(token: number, mode: Mode): Uint8Array {
    const item = this.#get(token);
    item.packet ??= encode([this.#tickOf(item, "full")]).subarray(MESSAGE_HEADER);
    const prefix = PREFIX[mode];
    return item.packet.subarray(0, item.index ? prefix.index : prefix.quote);
  }

  /** The current tick of `token` as `mode` shows it (cached: nothing moves). */
  tick(token: number, mode: Mode): Tick {
    return this.#tickOf(this.#get(token), mode);
  }

  #tickOf(item: Quote, mode: Mode): Tick {
    const d = item.divisor;
    const token = item.token;
    const lastPrice = item.last / d;
    if (mode === "ltp") {
      const tick: LtpTick = {
        kind: "ltp",
        mode: "ltp",
        instrument_token: token,
        tradable: !item.index,
        last_price: lastPrice,
      };
      return tick;
    }
    const ohlc = {
      open: item.open / d,
      high: item.high / d,
      low: item.low / d,
      close: item.close / d,
    };
    const netChange = lastPrice - ohlc.close;
    const changePercent = netChange * 100 / ohlc.close;
    const full = mode === "full";
    if (item.index) {
      const tick: IndexTick = {
        kind: "index",
        mode,
        instrument_token: token,
        tradable: false,
        last_price: lastPrice,
        ohlc,
        net_change: netChange,
        change_percent: changePercent,
        exchange_timestamp: full ? this.#seconds() : 0,
      };
      return tick;
    }
    const average = roundToStep(item.turnover / Math.max(1, item.volume), 1) / d;
    const tick: QuoteTick = {
      kind: "quote",
      mode,
      instrument_token: token,
      tradable: true,
      last_price: lastPrice,
      last_quantity: item.lastQuantity,
      average_price: average,
      volume: item.volume,
      buy_quantity: item.buyQuantity,
      sell_quantity: item.sellQuantity,
      ohlc,
      net_change: netChange,
      change_percent: changePercent,
      last_trade_time: full ? item.lastTradeTime : 0,
      oi: 0,
      oi_day_high: 0,
      oi_day_low: 0,
      exchange_timestamp: full ? this.#seconds() : 0,
      depth: full
        ? { buy: this.#depthSide(item, -1), sell: this.#depthSide(item, 1) }
        : { buy: [], sell: [] },
    };
    return tick;
  }

  #depthSide(item: Quote, direction: 1 | -1) {
    const levels = [];
    for (let i = 1; i <= 5; i++) {
      levels.push({
        quantity: 1 + Math.floor(this.#random() * 500),
        price: Math.max(item.step, item.last + direction * i * item.step) / item.divisor,
        orders: 1 + Math.floor(this.#random() * 20),
      });
    }
    return levels;
  }
}
