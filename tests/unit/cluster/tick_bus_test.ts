import assert from "node:assert/strict";
import { clusterKeys } from "../../../src/cluster/cluster_keys.ts";
import { connectRedis, type RedisReply } from "../../../src/cluster/redis_link.ts";
import { type BusEvent, openTickBus } from "../../../src/cluster/tick_bus.ts";
import { type BusTick, followTickBus } from "../../../src/cluster/tick_bus_reader.ts";
import { fieldRecord, splitFields, tickFromFields } from "../../../src/cluster/tick_fields.ts";
import type { Tick } from "../../../src/kite/packets.ts";
import { startRedisServer } from "../../../src/testing/redis_server.ts";
import { eventually, needsRedis } from "../../_support/redis_fixture.ts";

const keys = clusterKeys("bus");

function quote(token: number, price: number): Tick {
  return {
    kind: "quote",
    mode: "quote",
    instrument_token: token,
    tradable: true,
    last_price: price,
    last_quantity: 5,
    average_price: price - 0.5,
    volume: 1000 + price,
    buy_quantity: 10,
    sell_quantity: 20,
    ohlc: { open: 100, high: 110, low: 90, close: 100 },
    net_change: price - 100,
    change_percent: price - 100,
    last_trade_time: 0,
    oi: 0,
    oi_day_high: 0,
    oi_day_low: 0,
    exchange_timestamp: 0,
    depth: { buy: [], sell: [] },
  };
}

function entries(reply: RedisReply): Record<string, string>[] {
  assert.ok(Array.isArray(reply));
  return reply.map((entry) => {
    assert.ok(Array.isArray(entry) && Array.isArray(entry[1]));
    return fieldRecord(entry[1].map(String));
  });
}

Deno.test({
  ...needsRedis("openTickBus() puts each tick in the stream with its fence, the last in the hash"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url);
    try {
      let fence = 4;
      const bus = openTickBus(link, { keys, fence: () => fence });
      bus.publish([quote(1, 101), quote(2, 102)], 1_000);
      fence = 5;
      bus.publish([quote(1, 103)], 2_000);
      await eventually("published", () => bus.stats().published === 3);
      const stream = entries(await link.send(["XRANGE", keys.ticks, "-", "+"]));
      assert.deepEqual(stream.map((record) => tickFromFields(record)), [
        { tick: quote(1, 101), origin: { at: 1_000, fence: 4 } },
        { tick: quote(2, 102), origin: { at: 1_000, fence: 4 } },
        { tick: quote(1, 103), origin: { at: 2_000, fence: 5 } },
      ]);
      const last = splitFields(String(await link.send(["HGET", keys.last, "1"])));
      assert.equal(last.ltp, "103");
      assert.deepEqual(bus.stats(), { published: 3, dropped: 0, failed: 0, queued: 0 });
      await bus.close();
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("openTickBus() caps the stream with MAXLEN ~"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url);
    try {
      const bus = openTickBus(link, { keys, fence: () => 1, maxLen: 100 });
      for (let i = 0; i < 20; i++) {
        bus.publish(Array.from({ length: 100 }, (_, n) => quote(n + 1, 100 + i)), i);
      }
      await eventually("published", () => bus.stats().published === 2_000);
      const length = Number(await link.send(["XLEN", keys.ticks]));
      assert.ok(length >= 100 && length < 2_000, `XLEN ${length}`);
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis(
    "openTickBus() a paused Redis: publish returns at once, the queue stays bounded, drops counted",
  ),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url);
    const admin = await connectRedis(server.url);
    try {
      const bus = openTickBus(link, { keys, fence: () => 1, queueLimit: 1_000, batchSize: 100 });
      await admin.send(["CLIENT", "PAUSE", "600", "ALL"]);
      const sent = 20_000;
      for (let i = 0; i < 200; i++) {
        bus.publish(Array.from({ length: 100 }, (_, n) => quote(n + 1, i)), i);
        assert.ok(bus.stats().queued <= 1_000);
      }
      await eventually("everything accounted", () => {
        const stats = bus.stats();
        return stats.queued === 0 && stats.published + stats.dropped + stats.failed === sent;
      });
      const stats = bus.stats();
      assert.ok(stats.dropped >= sent - 1_000 - 4 * 100, JSON.stringify(stats));
      // The newest ticks went out: the hash holds the last price published.
      const last = splitFields(String(await link.send(["HGET", keys.last, "1"])));
      assert.equal(last.ltp, "199");
    } finally {
      await admin.close();
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("openTickBus() counts ticks lost while Redis is down and publishes again after"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url, { reconnectCapMs: 100 });
    try {
      const bus = openTickBus(link, { keys, fence: () => 1 });
      await server.stop();
      await eventually("link down", () => link.problem() !== null);
      bus.publish([quote(1, 1), quote(2, 2)], 1);
      await eventually("failed", () => bus.stats().failed === 2);
      await server.start();
      await eventually("link up", () => link.problem() === null);
      bus.publish([quote(1, 3)], 2);
      await eventually("published", () => bus.stats().published === 1);
    } finally {
      await link.close();
    }
  },
});

Deno.test({
  ...needsRedis("followTickBus() hands on the last ticks, then new ones and the holder's events"),
  async fn() {
    await using server = await startRedisServer();
    const holderLink = await connectRedis(server.url);
    const standbyLink = await connectRedis(server.url);
    try {
      const bus = openTickBus(holderLink, { keys, fence: () => 9 });
      bus.publish([quote(1, 101), quote(2, 102), quote(1, 111)], 1);
      await eventually("published", () => bus.stats().published === 3);
      const got: BusTick[] = [];
      const events: BusEvent[] = [];
      const reader = await followTickBus(standbyLink, {
        keys,
        onTicks: (ticks) => got.push(...ticks),
        onEvent: (event) => events.push(event),
        blockMs: 200,
      });
      try {
        // The hash: one last tick per instrument.
        assert.deepEqual(
          got.map(({ tick }) => [tick.instrument_token, tick.last_price]).sort(),
          [[1, 111], [2, 102]],
        );
        got.length = 0;
        bus.publish([quote(2, 120)], 2);
        await eventually("new tick", () => got.length === 1);
        assert.deepEqual(got[0], { tick: quote(2, 120), origin: { at: 2, fence: 9 } });
        const state: BusEvent = {
          type: "state",
          node: "a",
          fence: 9,
          state: "Live",
          since: 1,
          reason: "ok",
        };
        bus.announce(state);
        await eventually("event", () => events.length === 1);
        assert.deepEqual(events, [state]);
        assert.deepEqual(JSON.parse(String(await standbyLink.send(["GET", keys.state]))), state);
      } finally {
        await reader.stop();
      }
    } finally {
      await holderLink.close();
      await standbyLink.close();
    }
  },
});
