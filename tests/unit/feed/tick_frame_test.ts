import assert from "node:assert/strict";
import fc from "fast-check";
import type { Tick } from "../../../src/kite/packets.ts";
import { quoteOf } from "../../../src/feed/store.ts";
import type { TickEvent } from "../../../src/feed/stream_hub.ts";
import { tickFrames } from "../../../src/feed/tick_frame.ts";

/** The frame as the hub wrote it before: the quote object, then JSON.stringify. */
function viaJson(tick: Tick, at: string): string {
  const data: TickEvent = { token: tick.instrument_token, ...quoteOf(tick, at) };
  return `event: tick\ndata: ${JSON.stringify(data)}\n\n`;
}

const price = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, 1034.55, 1e21, 5e-7, Number.NaN, Number.POSITIVE_INFINITY),
);
// Known names (NIFTY 50, INFY…) and unknown tokens, whose name is the token as text.
const token = fc.oneof(fc.constantFrom(256265, 260105, 265, 408065), fc.nat(2 ** 32 - 1));
const at = fc.constantFrom("2026-01-05T04:15:00.123Z", "2026-01-05T04:15:01.000Z");

function quoteTick(instrument_token: number, last: number, change: number, percent: number): Tick {
  return {
    kind: "index",
    mode: "quote",
    instrument_token,
    tradable: false,
    last_price: last,
    ohlc: { open: 1, high: 2, low: 0.5, close: 1 },
    net_change: change,
    change_percent: percent,
    exchange_timestamp: 0,
  };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const tickArb = fc.tuple(token, price, price, price, fc.boolean()).map(
  ([t, last, change, pct, ltp]): Tick =>
    ltp
      ? { kind: "ltp", mode: "ltp", instrument_token: t, tradable: true, last_price: last }
      : quoteTick(t, last, change, pct),
);

Deno.test("tick frames are byte for byte the JSON of each tick's quote, in every mode", () => {
  const frames = tickFrames();
  fc.assert(
    fc.property(fc.array(fc.tuple(tickArb, at), { maxLength: 40 }), (ticks) => {
      for (const [tick, when] of ticks) frames.add(tick, when);
      assert.equal(frames.count, ticks.length);
      assert.equal(text(frames.take()), ticks.map(([tick, when]) => viaJson(tick, when)).join(""));
      assert.equal(frames.count, 0, "take() starts over");
    }),
    { numRuns: 300 },
  );
});

Deno.test("tick frames outgrow their first buffer and keep what came before", () => {
  const frames = tickFrames();
  const ticks = Array.from({ length: 5000 }, (_, i) => quoteTick(i, i / 7, -i / 3, i / 11));
  for (const tick of ticks) frames.add(tick, "2026-01-05T04:15:00.123Z");
  const expected = ticks.map((tick) => viaJson(tick, "2026-01-05T04:15:00.123Z")).join("");
  assert.ok(expected.length > 64 * 1024);
  assert.equal(text(frames.take()), expected);
});

Deno.test("a tick frame carries its own instrument's name after many instruments came and went", () => {
  const frames = tickFrames();
  for (let t = 1; t <= 25_000; t++) frames.add(quoteTick(t, 1, 0, 0), "2026-01-05T04:15:00.123Z");
  frames.take();
  const infy = quoteTick(408065, 1500.5, 2.5, 0.1668);
  frames.add(infy, "x");
  const frame = text(frames.take());
  assert.equal(frame, viaJson(infy, "x"));
  assert.match(frame, /"name":"INFY"/);
});
