/**
 * Benchmark: ticks per second for `decode()` against the official client's `parseBinary`,
 * on the same messages in the same run, for full, quote and ltp packets.
 *
 * ```sh
 * deno run --allow-read --allow-env scripts/bench_decode.ts [--iterations N] [--small]
 *   [--packets N] [--budget-ms N] [--samples N] [--messages N] [--json]
 * ```
 *
 * Without `--iterations`, each decoder runs for a time budget per mode, in 5 samples
 * alternating with the other decoder; medians count. `--iterations N` runs each decoder over the message set N times per
 * sample instead; `--small` is a seconds-long smoke run for CI.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KiteTicker } from "kiteconnect";
import { decode, encode, type Tick } from "../src/kite/packets.ts";
import { type Figure, figure } from "./_bench_stats.ts";

/** A mode whose packets a row measures. */
export type BenchMode = "full" | "quote" | "ltp";

/** One measured mode. Rates are ticks decoded per second. */
export interface DecodeBenchRow {
  readonly mode: BenchMode;
  readonly packets_per_message: number;
  readonly ticks_per_sample: { readonly ours: number; readonly official: number };
  readonly ours_ticks_per_s: number;
  readonly official_ticks_per_s: number;
  /** Median of ours / official over paired samples. */
  readonly ratio: number;
}

/** Options of {@linkcode benchDecode}. */
export interface DecodeBenchOptions {
  /** Passes over the message set per sample; default: as many as fit `budgetMs`. */
  readonly iterations?: number;
  /** Time per decoder per mode, split over the samples. Default 800 ms. */
  readonly budgetMs?: number;
  /** Packets in each message. Default 5. */
  readonly packetsPerMessage?: number;
  /** Distinct messages cycled through. Default 64. */
  readonly messages?: number;
  /** Samples per decoder per mode; the median rate counts. Default 5. */
  readonly samples?: number;
}

const MODES: readonly BenchMode[] = ["full", "quote", "ltp"];

/** Realistic NSE equity ticks (segment 1, prices in paise) with varied values. */
function sampleTick(mode: BenchMode, i: number): Tick {
  const token = ((100 + i) << 8) | 1;
  const paise = (n: number) => n / 100;
  const last = paise(150000 + ((i * 7919) % 5000));
  if (mode === "ltp") {
    return { kind: "ltp", mode, instrument_token: token, tradable: true, last_price: last };
  }
  const close = paise(149000 + (i % 97));
  const full = mode === "full";
  const level = (k: number, side: number) => ({
    quantity: 10 + ((i + k) % 500),
    price: paise(150000 + side * (5 + k * 5)),
    orders: 1 + ((i + k) % 30),
  });
  return {
    kind: "quote",
    mode,
    instrument_token: token,
    tradable: true,
    last_price: last,
    last_quantity: 1 + (i % 50),
    average_price: paise(149800 + (i % 400)),
    volume: 1_000_000 + i * 13,
    buy_quantity: 250_000 + i,
    sell_quantity: 360_000 - i,
    ohlc: { open: paise(149500), high: paise(156000), low: paise(148000), close },
    net_change: last - close,
    change_percent: (last - close) * 100 / close,
    last_trade_time: full ? 1625461887 - (i % 60) : 0,
    oi: 0,
    oi_day_high: 0,
    oi_day_low: 0,
    exchange_timestamp: full ? 1625461887 : 0,
    depth: full
      ? {
        buy: [0, 1, 2, 3, 4].map((k) => level(k, -1)),
        sell: [0, 1, 2, 3, 4].map((k) => level(k, 1)),
      }
      : { buy: [], sell: [] },
  };
}

function buildMessages(mode: BenchMode, count: number, perMessage: number): ArrayBuffer[] {
  const messages: ArrayBuffer[] = [];
  for (let m = 0; m < count; m++) {
    const ticks: Tick[] = [];
    for (let p = 0; p < perMessage; p++) ticks.push(sampleTick(mode, m * perMessage + p));
    messages.push(encode(ticks).buffer);
  }
  return messages;
}

type Decoder = (message: ArrayBuffer) => number;

/** One pass over every message; returns ticks seen so the work cannot be optimised away. */
function pass(decoder: Decoder, messages: readonly ArrayBuffer[]): number {
  let ticks = 0;
  for (const message of messages) ticks += decoder(message);
  return ticks;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

interface Settings {
  readonly iterations: number | undefined;
  readonly budgetMs: number;
  readonly samples: number;
}

/** Ticks per second over one timed sample, and the ticks it decoded. */
function sample(
  decoder: Decoder,
  messages: readonly ArrayBuffer[],
  settings: Settings,
): { rate: number; ticks: number } {
  const sampleMs = settings.budgetMs / settings.samples;
  let ticks = 0;
  let passes = 0;
  let elapsed = 0;
  const start = performance.now();
  do {
    ticks += pass(decoder, messages);
    passes++;
    elapsed = performance.now() - start;
  } while (settings.iterations === undefined ? elapsed < sampleMs : passes < settings.iterations);
  return { rate: ticks / (elapsed / 1000), ticks };
}

/**
 * Alternates samples of the two decoders, so load from elsewhere on the machine hits both
 * alike; reports median rates and the median of the per-pair ratios.
 */
function compare(
  ours: Decoder,
  official: Decoder,
  messages: readonly ArrayBuffer[],
  settings: Settings,
) {
  // Warm-up: let the JIT settle on both hot paths before timing.
  for (const decoder of [ours, official]) {
    const until = performance.now() + Math.min(200, settings.budgetMs / 4);
    do pass(decoder, messages); while (performance.now() < until);
  }
  const oursRates: number[] = [];
  const officialRates: number[] = [];
  const ratios: number[] = [];
  let ticks = { ours: 0, official: 0 };
  for (let s = 0; s < settings.samples; s++) {
    const a = sample(ours, messages, settings);
    const b = sample(official, messages, settings);
    oursRates.push(a.rate);
    officialRates.push(b.rate);
    ratios.push(a.rate / b.rate);
    ticks = { ours: a.ticks, official: b.ticks };
  }
  return { ours: median(oursRates), official: median(officialRates), ratio: median(ratios), ticks };
}

function officialDecoder(): Decoder {
  // Constructing KiteTicker opens no socket; parseBinary is a plain function.
  const ticker = new KiteTicker({ api_key: "bench", access_token: "bench", reconnect: false });
  const parser = ticker as unknown as { parseBinary(message: ArrayBuffer): unknown[] };
  return function official(message) {
    return parser.parseBinary(message).length;
  };
}

function ourDecoder(message: ArrayBuffer): number {
  const decoded = decode(message);
  return decoded.kind === "ticks" ? decoded.ticks.length : 0;
}

/**
 * Measures `decode()` and the official `parseBinary` on messages of full, quote and ltp
 * packets, and returns one row per mode.
 */
export function benchDecode(options: DecodeBenchOptions = {}): DecodeBenchRow[] {
  const perMessage = options.packetsPerMessage ?? 5;
  const settings: Settings = {
    iterations: options.iterations,
    budgetMs: options.budgetMs ?? 800,
    samples: options.samples ?? 5,
  };
  const official = officialDecoder();
  const rows: DecodeBenchRow[] = [];
  for (const mode of MODES) {
    const messages = buildMessages(mode, options.messages ?? 64, perMessage);
    if (pass(ourDecoder, messages) !== pass(official, messages)) {
      throw new Error(`Failed to benchmark ${mode}: the decoders disagree on the tick count`);
    }
    const result = compare(ourDecoder, official, messages, settings);
    rows.push({
      mode,
      packets_per_message: perMessage,
      ticks_per_sample: result.ticks,
      ours_ticks_per_s: Math.round(result.ours),
      official_ticks_per_s: Math.round(result.official),
      ratio: Math.round(result.ratio * 10) / 10,
    });
  }
  return rows;
}

/**
 * The rows as benchmark figures: `decode()` beside `parseBinary` in each mode, ticks per
 * second (the ratio is of the two medians; each row keeps the median of paired ratios).
 */
export function decodeFigures(rows: readonly DecodeBenchRow[]): Figure[] {
  return rows.map((row) =>
    figure({
      key: `decode.${row.mode}.ticks_per_s`,
      benchmark: "decode",
      name: `decode() ${row.mode} packets, ${row.packets_per_message} a message`,
      unit: "ticks/s",
      value: row.ours_ticks_per_s,
      baseline: { name: "kiteconnect parseBinary", value: row.official_ticks_per_s },
    }, row.mode === "full" ? { text: "≥ 200 × baseline", met: (v, b) => v >= 200 * b } : undefined)
  );
}

function formatTable(rows: readonly DecodeBenchRow[]): string {
  const header = ["mode", "packets/msg", "decode() ticks/s", "parseBinary ticks/s", "ratio"];
  const lines = rows.map((r) => [
    r.mode,
    String(r.packets_per_message),
    r.ours_ticks_per_s.toLocaleString("en-US"),
    r.official_ticks_per_s.toLocaleString("en-US"),
    `${r.ratio}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const row = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ");
  return [row(header), row(widths.map((w) => "-".repeat(w))), ...lines.map(row)].join("\n");
}

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`Failed to read ${flag}: expected a positive integer, got "${text}"`);
  }
  return value;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iterations: { type: "string" },
      packets: { type: "string" },
      small: { type: "boolean", default: false },
      "budget-ms": { type: "string" },
      samples: { type: "string" },
      messages: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const iterations = positiveInteger(values.iterations, "--iterations");
  const packets = positiveInteger(values.packets, "--packets");
  const budgetMs = positiveInteger(values["budget-ms"], "--budget-ms");
  const samples = positiveInteger(values.samples, "--samples");
  const messages = positiveInteger(values.messages, "--messages");
  const options: DecodeBenchOptions = {
    ...(values.small ? { budgetMs: 40, samples: 3, messages: 8 } : {}),
    ...(iterations === undefined ? {} : { iterations }),
    ...(packets === undefined ? {} : { packetsPerMessage: packets }),
    ...(budgetMs === undefined ? {} : { budgetMs }),
    ...(samples === undefined ? {} : { samples }),
    ...(messages === undefined ? {} : { messages }),
  };
  const rows = benchDecode(options);
  console.log(values.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
}
