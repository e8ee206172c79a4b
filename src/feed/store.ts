/**
 * The last tick of each instrument and the feed's counters, as /status and /quotes show them.
 * Written by the ticker adapter's handler; read as snapshots.
 *
 * @module
 */
import type { Tick } from "../kite/packets.ts";
import { instrumentName } from "../kite/instruments.ts";

/** What /status shows of one instrument. */
export interface InstrumentQuote {
  readonly name: string;
  readonly last_price: number;
  /** Absolute change against the previous close (Kite's `net_change`); 0 in ltp mode. */
  readonly change: number;
  /** The same change as a percentage of the close; 0 in ltp mode. */
  readonly change_percent: number;
  /** When kitekeeper received it, ISO 8601. */
  readonly at: string;
}

/** A copy of the feed's state. */
export interface FeedSnapshot {
  readonly instruments: Readonly<Record<string, InstrumentQuote>>;
  readonly last_data_at: string | null;
  readonly ticks_total: number;
  /** Malformed binary parts the decoder counted and skipped. */
  readonly decode_errors_total: number;
  /** Ticks for instruments nobody subscribed to: counted, never stored. */
  readonly ignored_ticks_total: number;
}

/** Holds the latest tick per instrument. */
export interface FeedStore {
  /**
   * Records `ticks` received at `at` (epoch ms) and returns those it kept: a tick for an
   * instrument nobody subscribed to is counted and dropped, so a misbehaving upstream cannot
   * grow the store.
   */
  record(ticks: readonly Tick[], at: number): readonly Tick[];
  /** Notes a message with no ticks (a heartbeat) received at `at`. */
  touch(at: number): void;
  /** Counts `count` malformed parts of a binary message. */
  countErrors(count: number): void;
  /** The current state, safe to serialize. */
  snapshot(): FeedSnapshot;
}

/** `tick`'s change against the previous close, as shown: 0 in ltp mode. */
export function changeOf(tick: Tick): number {
  return tick.kind === "ltp" ? 0 : tick.net_change;
}

/** `tick`'s change as a percentage of the close, as shown: 0 in ltp mode. */
export function changePercentOf(tick: Tick): number {
  return tick.kind === "ltp" ? 0 : tick.change_percent;
}

/**
 * What the store keeps of an instrument's last tick: the shown numbers only, updated in
 * place. Keeping the tick itself (with its depth, a dozen objects) kept 3000 instruments'
 * ticks alive for a second each, long enough for V8 to move them to the old generation
 * every round, and old-generation collections then stalled a round now and then.
 */
interface Latest {
  lastPrice: number;
  change: number;
  changePercent: number;
  at: number;
}

function latestOf(tick: Tick, at: number): Latest {
  return {
    lastPrice: tick.last_price,
    change: changeOf(tick),
    changePercent: changePercentOf(tick),
    at,
  };
}

function shown(token: number, latest: Latest, at: string): InstrumentQuote {
  return {
    name: instrumentName(token),
    last_price: latest.lastPrice,
    change: latest.change,
    change_percent: latest.changePercent,
    at,
  };
}

/**
 * What /status, /quotes and /stream show of `tick`, received at `at`: epoch ms, or already
 * as ISO 8601 (formatted once for the many ticks of one message).
 */
export function quoteOf(tick: Tick, at: number | string): InstrumentQuote {
  const text = typeof at === "string" ? at : new Date(at).toISOString();
  return shown(tick.instrument_token, latestOf(tick, Number.NaN), text);
}

/**
 * Creates an empty feed store. `options.wanted` says whether an instrument is subscribed
 * (default: every one is).
 */
export function createFeedStore(
  options: { wanted?: (instrumentToken: number) => boolean } = {},
): FeedStore {
  const wanted = options.wanted;
  const latest = new Map<number, Latest>();
  let lastDataAt: number | null = null;
  let ticksTotal = 0;
  let decodeErrors = 0;
  let ignored = 0;

  return {
    record(ticks, at) {
      const kept = wanted === undefined
        ? ticks
        : ticks.filter((tick) => wanted(tick.instrument_token));
      for (const tick of kept) {
        const entry = latest.get(tick.instrument_token);
        if (entry === undefined) latest.set(tick.instrument_token, latestOf(tick, at));
        else {
          entry.lastPrice = tick.last_price;
          entry.change = changeOf(tick);
          entry.changePercent = changePercentOf(tick);
          entry.at = at;
        }
      }
      ticksTotal += kept.length;
      ignored += ticks.length - kept.length;
      lastDataAt = at;
      return kept;
    },
    touch(at) {
      lastDataAt = at;
    },
    countErrors(count) {
      decodeErrors += count;
    },
    snapshot() {
      const instruments: Record<string, InstrumentQuote> = {};
      // Ticks of one message share a receive time: format it once, not once an instrument.
      let lastAt = Number.NaN;
      let atText = "";
      for (const [token, entry] of latest) {
        if (entry.at !== lastAt) {
          lastAt = entry.at;
          atText = new Date(entry.at).toISOString();
        }
        instruments[token] = shown(token, entry, atText);
      }
      return {
        instruments,
        last_data_at: lastDataAt === null ? null : new Date(lastDataAt).toISOString(),
        ticks_total: ticksTotal,
        decode_errors_total: decodeErrors,
        ignored_ticks_total: ignored,
      };
    },
  };
}
