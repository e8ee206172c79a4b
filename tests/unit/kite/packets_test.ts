import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decode,
  type Decoded,
  type DepthLevel,
  encode,
  encodeHeartbeat,
  type IndexTick,
  type LtpTick,
  parseTextMessage,
  type QuoteTick,
  type Tick,
} from "../../../src/kite/packets.ts";
import { packetMessage } from "../../_support/packet_message.ts";

// Segments (token & 0xff): NSE 1, NFO 2, CDS 3 (÷1e7), BSE 4, BCD 6 (÷1e4), MCX 7, indices 9.
const SEGMENTS = [1, 2, 3, 4, 6, 7, 9] as const;
const KNOWN_LENGTHS = [8, 28, 32, 44, 184] as const;

function divisorFor(segment: number): number {
  return segment === 3 ? 1e7 : segment === 6 ? 1e4 : 100;
}

/** The two documented changes: gokiteconnect's absolute one and the JS client's percent. */
function changes(last: number, close: number): { net_change: number; change_percent: number } {
  return {
    net_change: last - close,
    change_percent: close === 0 ? 0 : (last - close) * 100 / close,
  };
}

function ticksOf(decoded: Decoded): { ticks: Tick[]; errors: number } {
  assert.equal(decoded.kind, "ticks");
  if (decoded.kind !== "ticks") throw new Error("unreachable");
  return { ticks: decoded.ticks, errors: decoded.errors };
}

function level(quantity: number, price: number, orders: number): DepthLevel {
  return { quantity, price, orders };
}

/** Sample ticks of every kind and mode for one segment; prices fit the segment's divisor. */
function samples(segment: number): Tick[] {
  const token = (1234 << 8) | segment;
  const tradable = segment !== 9;
  // A price with as many decimals as the divisor allows, small enough for CDS's ÷1e7.
  const p = (base: number) =>
    Math.round((base + 0.1234567) * divisorFor(segment)) / divisorFor(segment);
  const ohlc = { open: p(70), high: p(80), low: p(60), close: p(75) };
  const last = p(77);
  const ltp: LtpTick = {
    kind: "ltp",
    mode: "ltp",
    instrument_token: token,
    tradable,
    last_price: last,
  };
  const indexQuote: IndexTick = {
    kind: "index",
    mode: "quote",
    instrument_token: token,
    tradable,
    last_price: last,
    ohlc,
    ...changes(last, ohlc.close),
    exchange_timestamp: 0,
  };
  const indexFull: IndexTick = { ...indexQuote, mode: "full", exchange_timestamp: 1625461887 };
  const quote: QuoteTick = {
    kind: "quote",
    mode: "quote",
    instrument_token: token,
    tradable,
    last_price: last,
    last_quantity: 7,
    average_price: p(76),
    volume: 1192471,
    buy_quantity: 256443,
    sell_quantity: 363009,
    ohlc,
    ...changes(last, ohlc.close),
    last_trade_time: 0,
    oi: 0,
    oi_day_high: 0,
    oi_day_low: 0,
    exchange_timestamp: 0,
    depth: { buy: [], sell: [] },
  };
  const full: QuoteTick = {
    ...quote,
    mode: "full",
    last_trade_time: 1625461880,
    oi: 1500,
    oi_day_high: 2000,
    oi_day_low: -1,
    exchange_timestamp: 1625461887,
    depth: {
      buy: [1, 2, 3, 4, 5].map((i) => level(i * 10, p(77 - i), i)),
      sell: [1, 2, 3, 4, 5].map((i) => level(i * 11, p(77 + i), 65535 - i)),
    },
  };
  return [ltp, indexQuote, indexFull, quote, full];
}

Deno.test("decode(encode()) returns every kind and mode unchanged in every segment", () => {
  for (const segment of SEGMENTS) {
    for (const tick of samples(segment)) {
      assert.deepStrictEqual(decode(encode([tick])), { kind: "ticks", ticks: [tick], errors: 0 });
    }
    const all = samples(segment);
    assert.deepStrictEqual(decode(encode(all)), { kind: "ticks", ticks: all, errors: 0 });
  }
});

Deno.test("encode() writes the documented lengths and offsets", () => {
  const [ltp, indexQuote, indexFull, quote, full] = samples(1) as [
    LtpTick,
    IndexTick,
    IndexTick,
    QuoteTick,
    QuoteTick,
  ];
  const bytes = encode([ltp, indexQuote, indexFull, quote, full]);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint16(0), 5);
  let at = 2;
  const bodies: number[] = [];
  for (let i = 0; i < 5; i++) {
    bodies.push(at + 2);
    at += 2 + view.getUint16(at);
  }
  assert.equal(at, bytes.length);
  assert.deepStrictEqual(bodies.map((b) => view.getUint16(b - 2)), [8, 28, 32, 44, 184]);
  const [b0, b1, b2, , b4] = bodies as [number, number, number, number, number];
  assert.equal(view.getUint32(b0), ltp.instrument_token);
  assert.equal(view.getInt32(b0 + 4), Math.round(ltp.last_price * 100));
  // Index: high 8, low 12, open 16, close 20, change 24, timestamp 28.
  assert.equal(view.getInt32(b1 + 8), Math.round(indexQuote.ohlc.high * 100));
  assert.equal(view.getInt32(b1 + 12), Math.round(indexQuote.ohlc.low * 100));
  assert.equal(view.getInt32(b1 + 16), Math.round(indexQuote.ohlc.open * 100));
  assert.equal(view.getInt32(b1 + 20), Math.round(indexQuote.ohlc.close * 100));
  assert.equal(view.getInt32(b2 + 28), indexFull.exchange_timestamp);
  // Full: qty 8, avg 12, volume 16, buy 20, sell 24, open 28 … close 40, ltt 44, oi 48-56,
  // timestamp 60, depth 64 (qty, price, orders, pad), offers from 124.
  assert.equal(view.getInt32(b4 + 8), full.last_quantity);
  assert.equal(view.getInt32(b4 + 12), Math.round(full.average_price * 100));
  assert.equal(view.getInt32(b4 + 16), full.volume);
  assert.equal(view.getInt32(b4 + 20), full.buy_quantity);
  assert.equal(view.getInt32(b4 + 24), full.sell_quantity);
  assert.equal(view.getInt32(b4 + 28), Math.round(full.ohlc.open * 100));
  assert.equal(view.getInt32(b4 + 40), Math.round(full.ohlc.close * 100));
  assert.equal(view.getInt32(b4 + 44), full.last_trade_time);
  assert.equal(view.getInt32(b4 + 48), full.oi);
  assert.equal(view.getInt32(b4 + 56), full.oi_day_low);
  assert.equal(view.getInt32(b4 + 60), full.exchange_timestamp);
  const bid = full.depth.buy[0] as DepthLevel;
  const offer = full.depth.sell[4] as DepthLevel;
  assert.equal(view.getInt32(b4 + 64), bid.quantity);
  assert.equal(view.getInt32(b4 + 68), Math.round(bid.price * 100));
  assert.equal(view.getUint16(b4 + 72), bid.orders);
  assert.equal(view.getUint16(b4 + 74), 0);
  assert.equal(view.getInt32(b4 + 124 + 48), offer.quantity);
  assert.equal(view.getUint16(b4 + 124 + 56), offer.orders);
});

Deno.test("decode() applies the segment divisor and marks indices not tradable", () => {
  const message = new Uint8Array(2 + 4 * 10);
  const view = new DataView(message.buffer);
  view.setUint16(0, 4);
  [1, 3, 6, 9].forEach((segment, i) => {
    view.setUint16(2 + i * 10, 8);
    view.setUint32(4 + i * 10, (77 << 8) | segment);
    view.setInt32(8 + i * 10, 123456789);
  });
  const { ticks, errors } = ticksOf(decode(message));
  assert.equal(errors, 0);
  assert.deepStrictEqual(
    ticks.map((t) => [t.last_price, t.tradable]),
    [[1234567.89, true], [12.3456789, true], [12345.6789, true], [1234567.89, false]],
  );
});

Deno.test("decode() reads int32 fields as signed and depth orders as unsigned", () => {
  const message = new Uint8Array(2 + 2 + 184).fill(0xff);
  const view = new DataView(message.buffer);
  view.setUint16(0, 1);
  view.setUint16(2, 184);
  view.setUint32(4, 0x00000101);
  const { ticks } = ticksOf(decode(message));
  const tick = ticks[0] as QuoteTick;
  assert.equal(tick.last_price, -0.01);
  assert.equal(tick.volume, -1);
  assert.equal(tick.exchange_timestamp, -1);
  assert.equal(tick.depth.buy[0]?.orders, 65535);
});

Deno.test("decode() keeps an index's raw offset-24 change when close is 0", () => {
  const message = new Uint8Array(2 + 2 + 28);
  const view = new DataView(message.buffer);
  view.setUint16(0, 1);
  view.setUint16(2, 28);
  view.setUint32(4, 0x00000109);
  view.setInt32(8, 1500);
  view.setInt32(28, -42);
  const tick = ticksOf(decode(message)).ticks[0] as IndexTick;
  assert.equal(tick.change_percent, -42);
  assert.equal(tick.net_change, 15);
  assert.deepStrictEqual(decode(encode([tick])), decode(message));
});

Deno.test("decode() tells a heartbeat from a tick message", () => {
  assert.deepStrictEqual(decode(encodeHeartbeat()), { kind: "heartbeat" });
  assert.deepStrictEqual(decode(new Uint8Array(0)), { kind: "heartbeat" });
  assert.deepStrictEqual(decode(new ArrayBuffer(1)), { kind: "heartbeat" });
  assert.deepStrictEqual(decode(new Uint8Array(2)), { kind: "ticks", ticks: [], errors: 0 });
});

Deno.test("decode() accepts an ArrayBuffer and a Uint8Array view at an offset", () => {
  const ticks = samples(2);
  const bytes = encode(ticks);
  const framed = new Uint8Array(bytes.length + 10).fill(0xee);
  framed.set(bytes, 5);
  assert.deepStrictEqual(decode(framed.subarray(5, 5 + bytes.length)), decode(bytes));
  assert.deepStrictEqual(decode(bytes.slice().buffer), { kind: "ticks", ticks, errors: 0 });
});

Deno.test("decode() returns the well-formed prefix of a truncated message", () => {
  const ticks = samples(1);
  const bytes = encode(ticks);
  // Cut inside the fourth packet's body, then inside the fourth packet's length.
  const fourth = 2 + (2 + 8) + (2 + 28) + (2 + 32);
  for (const cut of [fourth + 2 + 10, fourth + 1]) {
    assert.deepStrictEqual(decode(bytes.subarray(0, cut)), {
      kind: "ticks",
      ticks: ticks.slice(0, 3),
      errors: 1,
    });
  }
});

Deno.test("decode() counts a packet count that runs past the end", () => {
  const ticks = samples(4).slice(0, 2);
  const bytes = encode(ticks);
  new DataView(bytes.buffer).setUint16(0, 3);
  assert.deepStrictEqual(decode(bytes), { kind: "ticks", ticks, errors: 1 });
});

Deno.test("decode() counts a packet length that runs past the end", () => {
  const ticks = samples(4).slice(0, 2);
  const bytes = encode(ticks);
  new DataView(bytes.buffer).setUint16(2 + 2 + 8, 29);
  assert.deepStrictEqual(decode(bytes), { kind: "ticks", ticks: ticks.slice(0, 1), errors: 1 });
});

Deno.test("decode() skips and counts packets of unknown length, then goes on", () => {
  const [ltp, , , quote] = samples(1) as [Tick, Tick, Tick, Tick];
  const a = encode([ltp]);
  const b = encode([quote]);
  for (const odd of [0, 2, 3, 12, 100, 183, 185]) {
    const message = new Uint8Array(2 + (a.length - 2) + 2 + odd + (b.length - 2)).fill(7);
    const view = new DataView(message.buffer);
    view.setUint16(0, 3);
    message.set(a.subarray(2), 2);
    view.setUint16(a.length, odd);
    message.set(b.subarray(2), a.length + 2 + odd);
    assert.deepStrictEqual(decode(message), { kind: "ticks", ticks: [ltp, quote], errors: 1 });
  }
});

Deno.test("decode() counts bytes left over after the counted packets", () => {
  const ticks = samples(1).slice(0, 1);
  const bytes = encode(ticks);
  const longer = new Uint8Array(bytes.length + 3);
  longer.set(bytes);
  assert.deepStrictEqual(decode(longer), { kind: "ticks", ticks, errors: 1 });
});

Deno.test("encode() refuses values that do not fit their fields", () => {
  const [ltp, , , , full] = samples(1) as [LtpTick, Tick, Tick, Tick, QuoteTick];
  const bad: Tick[] = [
    { ...ltp, last_price: 3e7 },
    { ...ltp, last_price: Number.NaN },
    { ...ltp, instrument_token: -1 },
    { ...ltp, instrument_token: 2 ** 32 },
    { ...full, volume: 1.5 },
    { ...full, volume: 2 ** 31 },
    { ...full, depth: { buy: [level(1, 1, 65536)], sell: [] } },
  ];
  for (const tick of bad) assert.throws(() => encode([tick]), RangeError);
  assert.throws(() => encode(new Array<Tick>(65536).fill(ltp)), RangeError);
});

Deno.test("encode() sends missing depth levels as zeros", () => {
  const full = samples(1)[4] as QuoteTick;
  const thin: QuoteTick = { ...full, depth: { buy: full.depth.buy.slice(0, 2), sell: [] } };
  const decoded = ticksOf(decode(encode([thin]))).ticks[0] as QuoteTick;
  const empty = level(0, 0, 0);
  assert.deepStrictEqual(decoded.depth, {
    buy: [...full.depth.buy.slice(0, 2), empty, empty, empty],
    sell: [empty, empty, empty, empty, empty],
  });
});

Deno.test("parseTextMessage() returns order, error and message by type", () => {
  assert.deepStrictEqual(parseTextMessage('{"type":"order","data":{"order_id":"1"}}'), {
    type: "order",
    data: { order_id: "1" },
  });
  assert.deepStrictEqual(parseTextMessage('{"type":"error","data":"Invalid mode"}'), {
    type: "error",
    data: "Invalid mode",
  });
  assert.deepStrictEqual(parseTextMessage('{"type":"message","data":"hello"}'), {
    type: "message",
    data: "hello",
  });
  assert.deepStrictEqual(parseTextMessage('{"type":"instruments_meta","data":{"n":1}}'), {
    type: "unknown",
    message_type: "instruments_meta",
    data: { n: 1 },
  });
});

Deno.test("parseTextMessage() reports text that is not a typed JSON object", () => {
  for (const text of ["", "{", "null", "[]", '"order"', "42", '{"data":1}', '{"type":5}']) {
    const parsed = parseTextMessage(text);
    assert.equal(parsed.type, "invalid", text);
    if (parsed.type === "invalid") assert.match(parsed.reason, /^Failed to parse text message: /);
  }
});

/** Random packet bodies of known lengths, tokens across segments; pads zeroed. */
const wellFormedPacket = fc
  .record({
    length: fc.constantFrom(...KNOWN_LENGTHS),
    segment: fc.oneof(fc.constantFrom(...SEGMENTS), fc.integer({ min: 0, max: 255 })),
    id: fc.integer({ min: 0, max: 0xffffff }),
    body: fc.uint8Array({ minLength: 184, maxLength: 184 }),
    zeroClose: fc.boolean(),
  })
  .map(({ length, segment, id, body, zeroClose }) => {
    const bytes = body.slice(0, length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, id * 256 + segment);
    const closeAt = length === 28 || length === 32 ? 20 : 40;
    if (length > 8 && zeroClose) view.setInt32(closeAt, 0);
    // What encode() writes where nothing reads it: the raw change when close is not 0.
    if (closeAt === 20 && length > 8 && view.getInt32(20) !== 0) {
      view.setInt32(24, view.getInt32(4) - view.getInt32(20));
    }
    if (length === 184) { for (let i = 0; i < 10; i++) view.setUint16(64 + i * 12 + 10, 0); }
    return bytes;
  });

Deno.test("encode(decode()) reproduces random well-formed messages byte for byte", () => {
  fc.assert(
    fc.property(fc.array(wellFormedPacket, { maxLength: 12 }), (packets) => {
      const bytes = packetMessage(packets);
      const { ticks, errors } = ticksOf(decode(bytes));
      assert.equal(errors, 0);
      assert.equal(ticks.length, packets.length);
      assert.deepStrictEqual(encode(ticks), bytes);
      assert.deepStrictEqual(decode(encode(ticks)), { kind: "ticks", ticks, errors: 0 });
    }),
    { numRuns: 500 },
  );
});

Deno.test("decode(encode()) round-trips random ticks built from field values", () => {
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const tickArb = fc
    .record({
      segment: fc.constantFrom(...SEGMENTS),
      id: fc.integer({ min: 0, max: 0xffffff }),
      shape: fc.constantFrom("ltp", "index_quote", "index_full", "quote", "full"),
      ints: fc.array(int32, { minLength: 20, maxLength: 20 }),
      orders: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 10, maxLength: 10 }),
    })
    .map(({ segment, id, shape, ints, orders }): Tick => {
      const d = divisorFor(segment);
      const n = (i: number) => ints[i] as number;
      const token = id * 256 + segment;
      const tradable = segment !== 9;
      const last = n(0) / d;
      if (shape === "ltp") {
        return { kind: "ltp", mode: "ltp", instrument_token: token, tradable, last_price: last };
      }
      const ohlc = { open: n(1) / d, high: n(2) / d, low: n(3) / d, close: n(4) / d };
      if (shape === "index_quote" || shape === "index_full") {
        const full = shape === "index_full";
        const change = changes(last, ohlc.close);
        return {
          kind: "index",
          mode: full ? "full" : "quote",
          instrument_token: token,
          tradable,
          last_price: last,
          ohlc,
          net_change: change.net_change,
          change_percent: ohlc.close === 0 ? n(5) : change.change_percent,
          exchange_timestamp: full ? n(6) : 0,
        };
      }
      const full = shape === "full";
      const side = (from: number) =>
        [0, 1, 2, 3, 4].map((i) => level(n(from + i), n(from + 5 + i) / d, orders[i] as number));
      return {
        kind: "quote",
        mode: full ? "full" : "quote",
        instrument_token: token,
        tradable,
        last_price: last,
        last_quantity: n(5),
        average_price: n(6) / d,
        volume: n(7),
        buy_quantity: n(8),
        sell_quantity: n(9),
        ohlc,
        ...changes(last, ohlc.close),
        last_trade_time: full ? n(10) : 0,
        oi: full ? n(11) : 0,
        oi_day_high: full ? n(12) : 0,
        oi_day_low: full ? n(13) : 0,
        exchange_timestamp: full ? n(14) : 0,
        depth: full ? { buy: side(0), sell: side(10) } : { buy: [], sell: [] },
      };
    });
  fc.assert(
    fc.property(fc.array(tickArb, { maxLength: 8 }), (ticks) => {
      assert.deepStrictEqual(decode(encode(ticks)), { kind: "ticks", ticks, errors: 0 });
    }),
    { numRuns: 1000 },
  );
});

Deno.test("decode() never throws and never reads outside its view on random bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.constantFrom(...KNOWN_LENGTHS, 0, 1, 5, 60000), { maxLength: 4 }),
      (noise, lengths) => {
        // Half the cases get a plausible header so decoding goes deeper than the count.
        const bytes = noise.slice();
        const view = new DataView(bytes.buffer);
        if (bytes.length >= 4 && lengths.length > 0) {
          view.setUint16(0, lengths.length);
          view.setUint16(2, lengths[0] as number);
        }
        const framed = new Uint8Array(bytes.length + 16).fill(0x5a);
        framed.set(bytes, 8);
        const inside = decode(framed.subarray(8, 8 + bytes.length));
        assert.deepStrictEqual(inside, decode(bytes));
        if (bytes.length < 2) {
          assert.deepStrictEqual(inside, { kind: "heartbeat" });
          return;
        }
        const { ticks, errors } = ticksOf(inside);
        assert.ok(ticks.length <= view.getUint16(0));
        assert.ok(errors >= 0 && errors <= view.getUint16(0) + 1);
        for (const tick of ticks) assert.ok(Number.isFinite(tick.last_price));
      },
    ),
    { numRuns: 2000 },
  );
});
