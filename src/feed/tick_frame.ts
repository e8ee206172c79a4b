/**
 * The `/stream` tick events of a flush, written straight into one UTF-8 buffer: at 3000
 * instruments a flush is 3000 frames, and a quote object, a `JSON.stringify`, a string per
 * frame, a join and an encode were most of a flush's time and garbage. Each instrument's
 * unchanging start of frame (event line, token, name) is kept as bytes; a tick adds its three
 * numbers and its receive time. The text is exactly what
 * `JSON.stringify({ token, ...quoteOf(tick, at) })` gives (the unit test compares them).
 *
 * @module
 */
import type { Tick } from "../kite/packets.ts";
import { instrumentName } from "../kite/instruments.ts";
import { changeOf, changePercentOf } from "./store.ts";

/** Tick frames being written; {@linkcode TickFrames.take} hands them over. */
export interface TickFrames {
  /** Appends `tick`'s `event: tick` frame, given its receive time as ISO 8601. */
  add(tick: Tick, at: string): void;
  /** Frames added since the last take (their count in {@linkcode TickFrames.count}). */
  readonly count: number;
  /** The frames added since the last take, as UTF-8 (a copy: the buffer is reused). */
  take(): Uint8Array;
}

/** Tokens whose frame prefix is kept; more (a feed's whole universe over days) start over. */
const MAX_PREFIXES = 20_000;
/** Room for a number as JSON writes it (`-1.2345678901234567e-300` is 24 characters). */
const NUMBER_ROOM = 32;
const INITIAL_BYTES = 64 * 1024;

/** A number as JSON writes it: non-finite numbers become `null`. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}

/**
 * Creates an empty tick frame buffer, kept and reused across flushes.
 *
 * @example
 * ```ts
 * const frames = tickFrames();
 * frames.add(tick, "2026-01-05T04:15:00.123Z");
 * const bytes = frames.take();
 * // 'event: tick\ndata: {"token":408065,"name":"INFY","last_price":1500.5,…}\n\n' as UTF-8
 * ```
 */
export function tickFrames(): TickFrames {
  const encoder = new TextEncoder();
  const prefixes = new Map<number, Uint8Array>();
  const change = encoder.encode(',"change":');
  const changePercent = encoder.encode(',"change_percent":');
  const atKey = encoder.encode(',"at":');
  let buffer = new Uint8Array(INITIAL_BYTES);
  let length = 0;
  let count = 0;
  // The ticks of a flush mostly share one receive time: encode it once.
  let lastAt = "";
  let lastAtBytes = encoder.encode(`${JSON.stringify("")}}\n\n`);

  function prefixOf(token: number): Uint8Array {
    let prefix = prefixes.get(token);
    if (prefix === undefined) {
      if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
      prefix = encoder.encode(
        `event: tick\ndata: {"token":${jsonNumber(token)},"name":${
          JSON.stringify(instrumentName(token))
        },"last_price":`,
      );
      prefixes.set(token, prefix);
    }
    return prefix;
  }

  function reserve(bytes: number): void {
    if (length + bytes <= buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(buffer.byteLength * 2, length + bytes));
    grown.set(buffer.subarray(0, length));
    buffer = grown;
  }

  function put(bytes: Uint8Array): void {
    buffer.set(bytes, length);
    length += bytes.byteLength;
  }

  /** Writes a number's JSON text, ASCII by construction, one byte a character. */
  function putNumber(value: number): void {
    const text = jsonNumber(value);
    for (let i = 0; i < text.length; i++) buffer[length + i] = text.charCodeAt(i);
    length += text.length;
  }

  return {
    add(tick, at) {
      if (at !== lastAt) {
        lastAt = at;
        lastAtBytes = encoder.encode(`${JSON.stringify(at)}}\n\n`);
      }
      const prefix = prefixOf(tick.instrument_token);
      reserve(
        prefix.byteLength + change.byteLength + changePercent.byteLength +
          atKey.byteLength + lastAtBytes.byteLength + 3 * NUMBER_ROOM,
      );
      put(prefix);
      putNumber(tick.last_price);
      put(change);
      putNumber(changeOf(tick));
      put(changePercent);
      putNumber(changePercentOf(tick));
      put(atKey);
      put(lastAtBytes);
      count += 1;
    },
    get count() {
      return count;
    },
    take() {
      const bytes = buffer.slice(0, length);
      length = 0;
      count = 0;
      return bytes;
    },
  };
}
