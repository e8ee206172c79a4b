import assert from "node:assert/strict";
import { decode, type Mode } from "../../../src/kite/packets.ts";
import { OPTION_COUNT, optionTokens, SIM_INSTRUMENTS } from "../../../src/simulator/instruments.ts";
import { Market } from "../../../src/simulator/market.ts";
import { packetMessage } from "../../_support/packet_message.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { SIM_START } from "../../_support/sim_fixture.ts";

/** `hh:mm` IST on 2026-01-`day` in epoch ms. */
function ist(day: number, hh: number, mm: number): number {
  return Date.UTC(2026, 0, day, hh, mm) - 330 * 60_000;
}

Deno.test("the instrument list: 9000+ unique tokens, the three indices, every segment", () => {
  const tokens = SIM_INSTRUMENTS.map((i) => i.instrument_token);
  assert.ok(tokens.length > 9000, `${tokens.length}`);
  assert.equal(new Set(tokens).size, tokens.length, "duplicate tokens");
  const byToken = new Map(SIM_INSTRUMENTS.map((i) => [i.instrument_token, i]));
  assert.equal(byToken.get(256265)?.tradingsymbol, "NIFTY 50");
  assert.equal(byToken.get(260105)?.tradingsymbol, "NIFTY BANK");
  assert.equal(byToken.get(265)?.tradingsymbol, "SENSEX");
  const segments = new Map<number, string>();
  for (const item of SIM_INSTRUMENTS) {
    assert.equal(item.instrument_token, item.exchange_token * 256 + (item.instrument_token & 0xff));
    const seen = segments.get(item.instrument_token & 0xff);
    assert.ok(seen === undefined || seen === item.exchange, `${item.tradingsymbol}`);
    segments.set(item.instrument_token & 0xff, item.exchange);
  }
  assert.deepEqual([...segments].sort((a, b) => a[0] - b[0]), [
    [1, "NSE"],
    [2, "NFO"],
    [3, "CDS"],
    [4, "BSE"],
    [5, "BFO"],
    [6, "BCD"],
    [7, "MCX"],
    [9, "INDICES"],
  ]);
  const options = optionTokens(OPTION_COUNT);
  assert.ok(options.every((token) => byToken.get(token)?.exchange === "NFO"));
  assert.throws(() => optionTokens(OPTION_COUNT + 1), RangeError);
});

Deno.test("a lower mode's packet is a prefix of the full one and decodes to the same values", () => {
  const clock = new FakeClock(SIM_START);
  const market = new Market({ now: () => clock.now() });
  const samples = [256265, 408065, 1001 * 256 + 3, 2001 * 256 + 6, 400002 * 256 + 7];
  for (const token of samples) {
    const full = market.packet(token, "full");
    const fullTick = decode(packetMessage([full]));
    assert.ok(fullTick.kind === "ticks" && fullTick.errors === 0);
    for (const mode of ["ltp", "quote"] as Mode[]) {
      const part = market.packet(token, mode);
      assert.deepEqual([...part], [...full.subarray(0, part.byteLength)], `${token} ${mode}`);
      const tick = decode(packetMessage([part]));
      assert.ok(tick.kind === "ticks" && tick.errors === 0);
      assert.equal(tick.ticks[0]?.mode, mode);
      assert.equal(tick.ticks[0]?.last_price, fullTick.ticks[0]?.last_price);
    }
    // Nothing moved: the same bytes again (the cached tick).
    assert.deepEqual([...market.packet(token, "full")], [...full]);
  }
});

Deno.test("the market knows the listed tokens only (the ticker sends nothing else)", () => {
  const clock = new FakeClock(SIM_START);
  const market = new Market({ now: () => clock.now() });
  assert.equal(market.knows(12345601), false);
  assert.ok(SIM_INSTRUMENTS.every((i) => market.knows(i.instrument_token)));
});

Deno.test("with NSE hours, prices move in pre-open order entry and the open session only", () => {
  const clock = new FakeClock(SIM_START);
  const market = new Market({ now: () => clock.now(), hours: "nse" });
  const cases: [string, number, boolean][] = [
    ["Mon 08:59", ist(5, 8, 59), false],
    ["Mon 09:00 pre-open", ist(5, 9, 0), true],
    ["Mon 09:10 matching: prices frozen", ist(5, 9, 10), false],
    ["Mon 09:15 open", ist(5, 9, 15), true],
    ["Mon 15:29", ist(5, 15, 29), true],
    ["Mon 15:30", ist(5, 15, 30), false],
    ["Mon 15:45 closing session", ist(5, 15, 45), false],
    ["Sat 11:00", ist(10, 11, 0), false],
    ["Mon 26 Jan 11:00, Republic Day", ist(26, 11, 0), false],
    ["Tue 27 Jan 11:00", ist(27, 11, 0), true],
    ["back to Mon 5 Jan 20:00", ist(5, 20, 0), false],
  ];
  const tokens = optionTokens(50);
  for (const [name, at, moving] of cases) {
    assert.equal(market.moving(at), moving, name);
    assert.equal(market.step(tokens, at).length > 0, moving, name);
  }
  const always = new Market({ now: () => clock.now() });
  assert.equal(always.moving(ist(10, 11, 0)), true, "the default market never closes");
});
