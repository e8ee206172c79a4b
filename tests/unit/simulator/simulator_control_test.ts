import assert from "node:assert/strict";
import { controlRoutes, isLoopback } from "../../../src/simulator/control_routes.ts";
import { Market } from "../../../src/simulator/market.ts";
import { SessionStore } from "../../../src/simulator/session_store.ts";
import { TickerHub } from "../../../src/simulator/ticker_hub.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { SIM_START } from "../../_support/sim_fixture.ts";

Deno.test("isLoopback() accepts 127/8, ::1 and mapped 127.x only", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"]) {
    assert.equal(isLoopback(host), true, host);
  }
  for (const host of ["10.0.0.1", "192.0.2.1", "::ffff:10.0.0.1", "fe80::1", "", "localhost"]) {
    assert.equal(isLoopback(host), false, host);
  }
});

Deno.test("control routes answer 403 to a peer that is not loopback", async () => {
  const clock = new FakeClock(SIM_START);
  const sessions = new SessionStore({ apiKey: "k", apiSecret: "s", now: () => clock.now() });
  const hub = new TickerHub({
    sessions,
    market: new Market({ now: () => clock.now() }),
    tickMs: 1000,
    heartbeatMs: 1000,
  });
  try {
    const app = controlRoutes({ sessions, hub });
    const remote = await app.request("/_sim/session", { method: "POST" }, {
      remoteAddr: { hostname: "192.0.2.1" },
    });
    assert.equal(remote.status, 403);
    assert.equal((await remote.json()).status, "error");
    const local = await app.request("/_sim/session", { method: "POST" }, {
      remoteAddr: { hostname: "127.0.0.1" },
    });
    assert.equal(local.status, 200);
    const token = (await local.json()).access_token;
    assert.equal(sessions.isLive("k", token), true);
  } finally {
    await hub.close();
  }
});
