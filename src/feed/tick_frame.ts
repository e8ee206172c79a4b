/**
 * The `/stream` tick event of one tick, written as text without building its quote object:
 * at 3000 instruments a flush is 3000 frames, and an object and a `JSON.stringify` for each
 * were most of a flush's time and garbage. The text is exactly what
 * `JSON.stringify({ token, ...quoteOf(tick, at) })` gives (the unit test compares them).
 *
 * @module
 */
import type { Tick } from "../kite/packets.ts";
import { instrumentName } from "../kite/instruments.ts";

/** Writes one tick's `event: tick` frame, given its receive time already as ISO 8601. */
export type TickFrameWriter = (tick: Tick, at: string) => string;

/** Tokens whose frame prefix is kept; more (a feed's whole universe over days) start over. */
const MAX_PREFIXES = 20_000;

/** A number as JSON writes it: non-finite numbers become `null`. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}

/**
 * Creates a writer that keeps each instrument's unchanging start of frame (event line, token,
 * name), so a tick costs its three numbers and one concatenation.
 *
 * @example
 * ```ts
 * const tickFrame = tickFrameWriter();
 * tickFrame(tick, "2026-01-05T04:15:00.123Z");
 * // 'event: tick\ndata: {"token":408065,"name":"INFY","last_price":1500.5,…}\n\n'
 * ```
 */
export function tickFrameWriter(): TickFrameWriter {
  const prefixes = new Map<number, string>();
  function prefixOf(token: number): string {
    let prefix = prefixes.get(token);
    if (prefix === undefined) {
      if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
      prefix = `event: tick\ndata: {"token":${jsonNumber(token)},"name":${
        JSON.stringify(instrumentName(token))
      },"last_price":`;
      prefixes.set(token, prefix);
    }
    return prefix;
  }
  // The ticks of a flush mostly share one receive time: quote it once.
  let lastAt = "";
  let lastAtJson = '""';
  return function tickFrame(tick, at) {
    if (at !== lastAt) {
      lastAt = at;
      lastAtJson = JSON.stringify(at);
    }
    const ltp = tick.kind === "ltp";
    return prefixOf(tick.instrument_token) + jsonNumber(tick.last_price) + ',"change":' +
      (ltp ? "0" : jsonNumber(tick.net_change)) + ',"change_percent":' +
      (ltp ? "0" : jsonNumber(tick.change_percent)) + ',"at":' + lastAtJson + "}\n\n";
  };
}
