import assert from "node:assert/strict";
import type { Tick } from "../../../src/kite/packets.ts";
import { createFeedStore, quoteOf } from "../../../src/feed/store.ts";
import { ltp } from "../../_support/hub_fixture.ts";

const T0 = 1_700_000_000_000;

function quote(token: number, last: number, change: number, percent: number): Tick {
  return {
    kind: "index",
    mode: "quote",
    instrument_token: token,
    tradable: false,
    last_price: last,
    ohlc: { open: 1, high: 2, low: 0.5, close: last - change },
    net_change: change,
    change_percent: percent,
    exchange_timestamp: 0,
  };
}

Deno.test("the store shows each instrument's latest tick, as quoteOf() shows a tick", () => {
  const feed = createFeedStore();
  feed.record([quote(256265, 100, 1, 1.01), ltp(408065, 1500)], T0);
  feed.record([quote(256265, 101.5, 2.5, 2.52)], T0 + 1000);
  const snapshot = feed.snapshot();
  assert.deepEqual(snapshot.instruments, {
    256265: quoteOf(quote(256265, 101.5, 2.5, 2.52), T0 + 1000),
    408065: quoteOf(ltp(408065, 1500), T0),
  });
  assert.deepEqual(snapshot.instruments[256265], {
    name: "NIFTY 50",
    last_price: 101.5,
    change: 2.5,
    change_percent: 2.52,
    at: new Date(T0 + 1000).toISOString(),
  });
  assert.equal(snapshot.instruments[408065]?.change, 0, "ltp mode has no change");
  assert.equal(snapshot.ticks_total, 3);
  assert.equal(snapshot.last_data_at, new Date(T0 + 1000).toISOString());
});

Deno.test("an instrument that falls back to ltp mode shows no change, not the last quote's", () => {
  const feed = createFeedStore();
  feed.record([quote(265, 80_000, -120, -0.15)], T0);
  feed.record([ltp(265, 80_010)], T0 + 5);
  assert.deepEqual(feed.snapshot().instruments[265], quoteOf(ltp(265, 80_010), T0 + 5));
});

Deno.test("a snapshot is a copy: later ticks do not change it", () => {
  const feed = createFeedStore();
  feed.record([ltp(265, 1)], T0);
  const before = feed.snapshot();
  feed.record([ltp(265, 2)], T0 + 1);
  assert.equal(before.instruments[265]?.last_price, 1);
  assert.equal(feed.snapshot().instruments[265]?.last_price, 2);
});

Deno.test("ticks nobody subscribed to are counted and dropped", () => {
  const feed = createFeedStore({ wanted: (token) => token === 265 });
  const kept = feed.record([ltp(265, 1), ltp(7, 2)], T0);
  assert.deepEqual(kept.map((tick) => tick.instrument_token), [265]);
  const snapshot = feed.snapshot();
  assert.deepEqual(Object.keys(snapshot.instruments), ["265"]);
  assert.equal(snapshot.ignored_ticks_total, 1);
  assert.equal(snapshot.ticks_total, 1);
});
