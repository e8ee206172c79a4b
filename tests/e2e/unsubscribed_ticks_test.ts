/**
 * The fault matrix, a misbehaving upstream: ticks for instruments nobody subscribed to are
 * counted and dropped, never stored. A real WebSocket upstream over loopback, a real daemon.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DEFAULT_INSTRUMENTS } from "../../src/kite/instruments.ts";
import { packetMessage } from "../_support/packet_message.ts";
import { reach, report, since, startFaultHarness } from "../_support/fault_fixture.ts";

/** An ltp packet: token, last price in paise. */
function ltpPacket(token: number, paise: number): Uint8Array {
  const body = new Uint8Array(8);
  const view = new DataView(body.buffer);
  view.setUint32(0, token);
  view.setInt32(4, paise);
  return body;
}

Deno.test("fault: an upstream ticking 5 000 instruments nobody subscribed to → counted, not stored", async () => {
  // Every message: one configured instrument and 500 strangers, ten messages.
  let sent = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => {
      for (let n = 0; n < 10; n++) {
        const strangers = Array.from(
          { length: 500 },
          (_, i) => ltpPacket(9_000_000 + n * 500 + i, 100),
        );
        socket.send(packetMessage([ltpPacket(DEFAULT_INSTRUMENTS[0]!, 2_400_000), ...strangers]));
        sent++;
      }
    };
    return response;
  });
  try {
    await using h = await startFaultHarness({
      tickerUrl: `ws://127.0.0.1:${server.addr.port}/ws`,
      config: { stallMs: 60_000 },
    });
    const start = performance.now();
    await reach(h.daemon, "every message taken in", () => {
      return h.daemon.feed.snapshot().ignored_ticks_total === 5_000;
    });
    report("ticks nobody subscribed to", "5 000 ignored", since(start));
    assert.equal(sent, 10);
    const snapshot = h.daemon.feed.snapshot();
    assert.deepEqual(Object.keys(snapshot.instruments), [String(DEFAULT_INSTRUMENTS[0])]);
    assert.equal(snapshot.ticks_total, 10);
    const metrics = await (await fetch(`${h.daemon.url}/metrics`)).text();
    assert.match(metrics, /^kitekeeper_ignored_ticks_total 5000$/m);
  } finally {
    await server.shutdown();
  }
});
