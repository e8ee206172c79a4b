/**
 * The fault matrix, stopping: SIGTERM to a real `kitekeeper run` while `/stream` and `/ws`
 * clients have stopped reading (their sockets full) still exits 0 within the grace period.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envText, KITE } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { LineReader } from "../_support/lines.ts";
import { kitekeeperRun, startSimulatorFor } from "../_support/run.ts";
import { report, since } from "../_support/fault_fixture.ts";

const CLIENT_TOKEN = "clienttoken0123456789";
// 400 of the simulator's options, in full mode: a few MB a second for each client.
const INSTRUMENTS = Array.from({ length: 400 }, (_, i) => (40_000 + i) * 256 + 2);

function wsFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const head = payload.length < 126
    ? [0x81, 0x80 | payload.length]
    : [0x81, 0x80 | 126, payload.length >> 8, payload.length & 255];
  return new Uint8Array([...head, 0, 0, 0, 0, ...payload]); // masked with a zero key
}

Deno.test("fault: SIGTERM with /stream and /ws clients that stopped reading → exit 0 within the grace", async () => {
  const port = freePort();
  await using sim = await startSimulatorFor(port, {
    tickMs: 20,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_stop_" });
  const conns: Deno.Conn[] = [];
  try {
    await Deno.writeTextFile(
      `${dir}/.env`,
      envText(sim.url, [
        `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
        `KITEKEEPER_INSTRUMENTS=${INSTRUMENTS.join(",")}`,
        `KITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}`,
      ]),
      { mode: 0o600 },
    );
    const child = kitekeeperRun(`${dir}/.env`, { listen: `127.0.0.1:${port}` }).spawn();
    const out = new LineReader(child.stdout);
    const errText = Array.fromAsync(child.stderr.pipeThrough(new TextDecoderStream()))
      .then((chunks) => chunks.join(""));
    await out.until(/Reconnecting → Live/);

    // Four of each kind send their request and never read a byte of the answer.
    for (let n = 0; n < 8; n++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      if (n % 2 === 0) {
        await conn.write(new TextEncoder().encode(
          "GET /stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n",
        ));
      } else {
        await conn.write(new TextEncoder().encode(
          `GET /ws?api_key=${KITE.apiKey}&access_token=${CLIENT_TOKEN} HTTP/1.1\r\nHost: x\r\n` +
            "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ));
        await conn.write(wsFrame(JSON.stringify({ a: "subscribe", v: INSTRUMENTS })));
        await conn.write(wsFrame(JSON.stringify({ a: "mode", v: ["full", INSTRUMENTS] })));
      }
    }
    // Witness: the simulator has sent the daemon enough to fill every unread socket (the
    // daemon forwards all of it), counted by the simulator, not slept on.
    const before = sim.stats().ticks_sent;
    while (sim.stats().ticks_sent - before < 200_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const start = performance.now();
    child.kill("SIGTERM");
    const status = await child.status;
    const ms = since(start);
    report("SIGTERM with clients not reading", `exit ${status.code}`, ms);
    const stderr = await errText;
    await out.rest();
    assert.equal(status.code, 0, stderr.slice(-2000));
    assert.ok(!/BadResource|Uncaught/.test(stderr), stderr.slice(-2000));
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Closed by the daemon already.
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});
