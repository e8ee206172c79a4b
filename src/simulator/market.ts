/**
 * The simulator's market: a random walk per instrument, and the tick each mode shows of it.
 *
 * Prices are kept as integers in the segment's smallest unit (paise for ÷100 segments), so
 * every price is exactly representable on the wire and `decode(encode(tick))` gives back the
 * same numbers. Indices (segment 9) become index packets; everything else quote packets with
 * five levels of depth.
 *
 * @module
 */
import type { DepthLevel, IndexTick, LtpTick, Mode, QuoteTick, Tick } from "../kite/packets.ts";

/** A source of uniform random numbers in [0, 1). */
export type Random = () => number;

interface Instrument {
  readonly token: number;
  readonly index: boolean;
  /** Units per rupee: 100, or 1e7 (CDS), 1e4 (BCD). */
  readonly divisor: number;
  /** Price step in units (tick size). */
  readonly step: number;
  /** Prices in units. */
  last: number;
  open: number;
  high: number;
  low: number;
  readonly close: number;
  lastQuantity: number;
  volume: number;
  turnover: number;
  buyQuantity: number;
  sellQuantity: number;
  lastTradeTime: number;
}

const SEGMENT_CDS = 3;
const SEGMENT_BCD = 6;
const SEGMENT_INDICES = 9;
/** Probability that an instrument's price moves on a given tick ("most ticks change"). */
const MOVE_PROBABILITY = 0.85;
/** Standard deviation of one move, relative to the price. */
const MOVE_SCALE = 0.0004;

/** Known instruments and their plausible levels in rupees. */
const LEVELS: ReadonlyMap<number, number> = new Map([
  [256265, 24000], // NIFTY 50
  [260105, 52000], // NIFTY BANK
  [265, 80000], // SENSEX
  [408065, 1500], // INFY
  [738561, 2900], // RELIANCE
  [2953217, 3900], // TCS
  [341249, 1650], // HDFCBANK
]);

function divisorOf(token: number): number {
  const segment = token & 0xff;
  if (segment === SEGMENT_CDS) return 10000000;
  if (segment === SEGMENT_BCD) return 10000;
  return 100;
}

/** Tick size in units: ₹0.01 for indices, ₹0.0025 for currency, ₹0.05 otherwise. */
function stepOf(token: number, divisor: number): number {
  const segment = token & 0xff;
  if (segment === SEGMENT_INDICES) return 1;
  if (segment === SEGMENT_CDS || segment === SEGMENT_BCD) return divisor / 400;
  return 5;
}

/** A plausible level for a token nobody named: stable per token, ₹50–₹5000 (₹70–₹100 FX). */
function levelOf(token: number): number {
  const known = LEVELS.get(token);
  if (known !== undefined) return known;
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

function depthSide(
  item: Instrument,
  direction: 1 | -1,
  random: Random,
): DepthLevel[] {
  const levels: DepthLevel[] = [];
  for (let i = 1; i <= 5; i++) {
    levels.push({
      quantity: 1 + Math.floor(random() * 500),
      price: Math.max(item.step, item.last + direction * i * item.step) / item.divisor,
      orders: 1 + Math.floor(random() * 20),
    });
  }
  return levels;
}

/**
 * Instruments that move on each {@linkcode Market.step}. Created lazily: asking for any
 * token makes it exist, at a plausible level.
 */
export class Market {
  #instruments = new Map<number, Instrument>();
  #random: Random;
  #now: () => number;

  /** `now` gives epoch milliseconds for timestamps; `random` drives the walk. */
  constructor(options: { now: () => number; random?: Random }) {
    this.#now = options.now;
    this.#random = options.random ?? Math.random;
  }

  #get(token: number): Instrument {
    const existing = this.#instruments.get(token);
    if (existing !== undefined) return existing;
    const divisor = divisorOf(token);
    const step = stepOf(token, divisor);
    const close = roundToStep(levelOf(token) * divisor, step);
    const last = roundToStep(close * (1 + gaussian(this.#random) * 0.005), step);
    const index = (token & 0xff) === SEGMENT_INDICES;
    const volume = index ? 0 : 10000 + Math.floor(this.#random() * 1000000);
    const item: Instrument = {
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
    };
    this.#instruments.set(token, item);
    return item;
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Moves each of `tokens` one random step; returns those whose price changed. */
  step(tokens: Iterable<number>): Set<number> {
    const changed = new Set<number>();
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
        item.lastTradeTime = this.#seconds();
      }
      changed.add(token);
    }
    return changed;
  }

  /** The current tick of `token` as `mode` shows it (cached: nothing moves). */
  tick(token: number, mode: Mode): Tick {
    const item = this.#get(token);
    const d = item.divisor;
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
        exchange_timestamp: mode === "full" ? this.#seconds() : 0,
      };
      return tick;
    }
    const full = mode === "full";
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
        ? { buy: depthSide(item, -1, this.#random), sell: depthSide(item, 1, this.#random) }
        : { buy: [], sell: [] },
    };
    return tick;
  }
}
