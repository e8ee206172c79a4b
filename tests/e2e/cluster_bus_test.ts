/**
 * "Another machine" reads the tick bus: a separate program (redis-cli) that shares only Redis
 * with the holder reads the stream with XREAD, and every entry equals a tick the simulator
 * sent (seen by a witness socket of its own on the simulator).
 */
import assert from "node:assert/strict";
import { systemClock } from "../../src/clock.ts";
import { clusterKeys } from "../../src/cluster/cluster_keys.ts";
import { connectRedis } from "../../src/cluster/redis_link.ts";
import { openTickBus } from "../../src/cluster/tick_bus.ts";
import { fieldRecord, tickFields } from "../../src/cluster/tick_fields.ts";
import { decode, type Tick } from "../../src/kite/packets.ts";
import { createTickerPort } from "../../src/kite/ticker.ts";
import { startSimulator } from "../../src/simulator/simulator.ts";
import { startRedisServer } from "../../src/testing/redis_server.ts";
import { eventually, needsRedis } from "../_support/redis_fixture.ts";
import { run } from "../_support/run.ts";
import { CREDENTIALS, simOptions } from "../_support/sim_fixture.ts";

const INSTRUMENTS = [256265, 408065, 738561];
const keys = clusterKeys("e2e");

/**
 * A tick's stream fields without what the holder adds (when it got it, its fence) and without
 * depth, which the simulator draws afresh for each socket's packet.
 */
function comparable(fields: Record<string, string>): string {
  const { at: _at, fence: _fence, depth: _depth, ...values } = fields;
  return JSON.stringify(Object.entries(values).sort());
}

Deno.test({
  ...needsRedis("tick bus: another program reading only Redis gets the simulator's ticks"),
  async fn() {
    await using redis = await startRedisServer();
    const sim = await startSimulator(simOptions({ tickMs: 20 }));
    const link = await connectRedis(redis.url);
    const wsUrl = `${sim.url.replace("http", "ws")}/ws`;
    const token = sim.issueAccessToken();
    // The witness: its own socket on the simulator, recording what the simulator sends.
    const seen = new Set<string>();
    const witness = new WebSocket(`${wsUrl}?api_key=${CREDENTIALS.apiKey}&access_token=${token}`);
    witness.binaryType = "arraybuffer";
    const witnessOpen = Promise.withResolvers<void>();
    witness.onopen = () => witnessOpen.resolve();
    witness.onmessage = (event) => {
      if (typeof event.data === "string") return;
      const decoded = decode(new Uint8Array(event.data));
      if (decoded.kind !== "ticks") return;
      for (const tick of decoded.ticks) {
        seen.add(comparable(fieldRecord(tickFields(tick, { at: 0, fence: 0 }))));
      }
    };
    const bus = openTickBus(link, { keys, fence: () => 1 });
    const holder = createTickerPort(wsUrl, {
      apiKey: CREDENTIALS.apiKey,
      handshakeTimeoutMs: 5_000,
      timers: systemClock(),
      handlers: {
        opened: (gen) => holder.subscribe(gen, INSTRUMENTS, "full"),
        binary(_gen, decoded) {
          if (decoded.kind === "ticks") bus.publish(decoded.ticks as Tick[], Date.now());
        },
        text() {},
        failed() {},
      },
    });
    try {
      await witnessOpen.promise;
      witness.send(JSON.stringify({ a: "subscribe", v: INSTRUMENTS }));
      witness.send(JSON.stringify({ a: "mode", v: ["full", INSTRUMENTS] }));
      await eventually("the witness sees ticks", () => seen.size > 0);
      holder.open(token, 1);
      await eventually("ticks on the bus", () => bus.stats().published >= 30);
      await holder.closeAll();
      await bus.close();

      const read = await run("redis-cli", [
        "-p",
        String(redis.port),
        "-2",
        "--json",
        "XREAD",
        "COUNT",
        "100000",
        "STREAMS",
        keys.ticks,
        "0",
      ]);
      assert.equal(read.code, 0, read.stderr);
      const [[stream, entries]] = JSON.parse(read.stdout) as [[string, [string, string[]][]]];
      assert.equal(stream, keys.ticks);
      assert.ok(entries.length >= 30, `${entries.length} entries`);
      // Until the mode request lands the simulator sends this socket quote-mode ticks (the
      // first one for it alone); every full-mode tick is one it broadcast.
      const full = entries.filter(([, flat]) => fieldRecord(flat).mode === "full");
      assert.ok(full.length >= 20, `${full.length} full of ${entries.length}`);
      const unmatched = full.filter(([, flat]) => !seen.has(comparable(fieldRecord(flat))));
      assert.deepEqual(unmatched, [], "every entry is a tick the simulator sent");
      const tokens = new Set(entries.map(([, flat]) => Number(fieldRecord(flat).token)));
      assert.deepEqual([...tokens].sort((a, b) => a - b), [...INSTRUMENTS].sort((a, b) => a - b));
    } finally {
      witness.close();
      await holder.closeAll();
      await link.close();
      await sim.close();
    }
  },
});
