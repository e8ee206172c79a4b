import assert from "node:assert/strict";
import { controlRoutes, isLoopback } from "../../../src/simulator/control_routes.ts";
import { InjectedErrors } from "../../../src/simulator/injected_errors.ts";
import { Market } from "../../../src/simulator/market.ts";
import { SessionStore } from "../../../src/simulator/session_store.ts";
import { TickerHub } from "../../../src/simulator/ticker_hub.ts";
import type { Simulator } from "../../../src/simulator/simulator.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { control, CREDENTIALS, SIM_START, withSimulator } from "../../_support/sim_fixture.ts";
import { isTicks, WsProbe } from "../../_support/ws_probe.ts";

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
  const rejects = { ticker: new InjectedErrors(), rest: new InjectedErrors() };
  const hub = new TickerHub({
    sessions,
    market: new Market({ now: () => clock.now() }),
    now: () => clock.now(),
    rejects: rejects.ticker,
    tickMs: 1000,
    heartbeatMs: 1000,
  });
  try {
    const app = controlRoutes({
      sessions,
      hub,
      rejects,
      stats: () => hub.stats(),
      userId: "AB1234",
      now: () => clock.now(),
    });
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

function tickerUrl(sim: Simulator, token: string): string {
  const query = new URLSearchParams({ api_key: CREDENTIALS.apiKey, access_token: token });
  return `${sim.tickerUrl}?${query}`;
}

/** A handshake made with fetch, so the refusal's status and body can be read. */
async function handshake(sim: Simulator, token: string): Promise<Response> {
  return await fetch(tickerUrl(sim, token).replace(/^ws:/, "http:"), {
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13" },
  });
}

function profile(sim: Simulator, token: string): Promise<Response> {
  return fetch(`${sim.url}/user/profile`, {
    headers: { authorization: `token ${CREDENTIALS.apiKey}:${token}`, "x-kite-version": "3" },
  });
}

Deno.test("/_sim/reject fails the next N handshakes with the given status and Kite's body; the token stays valid", async () => {
  await withSimulator(async (sim) => {
    const token = sim.issueAccessToken();
    const queued = await control(sim, "reject?status=403&error_type=PermissionException&count=2");
    assert.deepEqual(queued, {
      target: "ticker",
      status: 403,
      error_type: "PermissionException",
      pending: 2,
    });
    const refused = await handshake(sim, token);
    assert.equal(refused.status, 403);
    const body = await refused.json();
    assert.deepEqual(Object.keys(body).sort(), ["data", "error_type", "message", "status"]);
    assert.equal(body.status, "error");
    assert.equal(body.error_type, "PermissionException");
    assert.match(await new WsProbe(tickerUrl(sim, token)).refused(), /403/);
    const ok = await profile(sim, token);
    assert.equal(ok.status, 200, "REST kept answering with the token");
    await ok.body?.cancel();
    const probe = new WsProbe(tickerUrl(sim, token));
    await probe.opened();
    assert.deepEqual(sim.stats().handshakes, { accepted: 1, rejected: 2 });
    await probe.close();
  });
});

Deno.test("/_sim/reject count=0 clears what was queued", async () => {
  await withSimulator(async (sim) => {
    await control(sim, "reject?status=503&error_type=NetworkException&count=5");
    assert.equal((await control(sim, "reject?count=0"))["pending"], 0);
    const probe = new WsProbe(tickerUrl(sim, sim.issueAccessToken()));
    await probe.opened();
    await probe.close();
  });
});

Deno.test("/_sim/reject refuses a bad error_type, status, count or target with 400", async () => {
  await withSimulator(async (sim) => {
    const bad = [
      "reject?error_type=Nope",
      "reject?status=200",
      "reject?status=abc",
      "reject?count=-1",
      "reject?count=1.5",
      "reject?target=socket",
    ];
    for (const path of bad) {
      const response = await fetch(`${sim.url}/_sim/${path}`, { method: "POST" });
      assert.equal(response.status, 400, path);
      assert.equal((await response.json()).error_type, "InputException", path);
    }
    const probe = new WsProbe(tickerUrl(sim, sim.issueAccessToken()));
    await probe.opened(); // nothing was queued
    await probe.close();
  });
});

Deno.test("/_sim/logout kills the token, keeps the open socket streaming; REST and the next handshake get 403 TokenException", async () => {
  await withSimulator(async (sim) => {
    const token = sim.issueAccessToken();
    const probe = new WsProbe(tickerUrl(sim, token));
    await probe.opened();
    probe.send({ a: "subscribe", v: [256265] });
    await probe.next(isTicks);
    assert.deepEqual(await control(sim, "logout"), { logged_out: 1 });
    await probe.next(isTicks); // still streaming on a dead token
    assert.equal(probe.socket.readyState, WebSocket.OPEN);
    const rest = await profile(sim, token);
    assert.equal(rest.status, 403);
    assert.equal((await rest.json()).error_type, "TokenException");
    const next = await handshake(sim, token);
    assert.equal(next.status, 403);
    assert.equal((await next.json()).error_type, "TokenException");
    assert.equal(sim.stats().sessions_active, 0);
    await probe.close();
  });
});
