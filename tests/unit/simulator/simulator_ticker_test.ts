import assert from "node:assert/strict";
import { parseTextMessage, type Tick } from "../../../src/kite/packets.ts";
import { optionTokens } from "../../../src/simulator/instruments.ts";
import { DROP_CLOSE_CODE } from "../../../src/simulator/ticker_hub.ts";
import type { Simulator } from "../../../src/simulator/simulator.ts";
import { control, CREDENTIALS, withSimulator } from "../../_support/sim_fixture.ts";
import { isHeartbeat, isTicks, type ProbeEvent, WsProbe } from "../../_support/ws_probe.ts";

const NIFTY = 256265;
const BANKNIFTY = 260105;
const SENSEX = 265;
const INFY = 408065;
/** USDINR futures on NSE's currency segment (÷1e7) and on BSE's (÷1e4). */
const USDINR_CDS = 1001 * 256 + 3;
const USDINR_BCD = 2001 * 256 + 6;

function tickerUrl(sim: Simulator, token: string): string {
  const query = new URLSearchParams({ api_key: CREDENTIALS.apiKey, access_token: token });
  return `${sim.tickerUrl}?${query}`;
}

async function openProbe(sim: Simulator): Promise<WsProbe> {
  const probe = new WsProbe(tickerUrl(sim, sim.issueAccessToken()));
  await probe.opened();
  return probe;
}

function byToken(ticks: readonly Tick[]): Map<number, Tick> {
  return new Map(ticks.map((tick) => [tick.instrument_token, tick]));
}

Deno.test("ticker sends 1-byte heartbeats on an idle socket", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    const beat = await probe.next(isHeartbeat);
    assert.equal(beat.bytes.byteLength, 1);
    await probe.next(isHeartbeat);
    await probe.close();
  });
});

Deno.test("ticker refuses a bad, missing or foreign-key token with 403 and counts it", async () => {
  await withSimulator(async (sim) => {
    const good = sim.issueAccessToken();
    const urls = [
      tickerUrl(sim, "x".repeat(32)),
      sim.tickerUrl,
      `${sim.tickerUrl}?api_key=other&access_token=${good}`,
    ];
    for (const url of urls) {
      const message = await new WsProbe(url).refused();
      assert.match(message, /403/);
    }
    const response = await fetch(tickerUrl(sim, "bad").replace(/^ws:/, "http:"), {
      headers: { upgrade: "websocket", connection: "Upgrade" },
    });
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error_type, "TokenException");
    const stats = sim.stats();
    assert.deepEqual(stats.handshakes, { accepted: 0, rejected: 4 });
  });
});

Deno.test("subscribe sends a cached quote tick for each new instrument at once", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, BANKNIFTY, SENSEX, INFY] });
    const first = await probe.next(isTicks);
    assert.equal(first.decoded.errors, 0);
    const ticks = byToken(first.decoded.ticks);
    assert.deepEqual([...ticks.keys()].sort((a, b) => a - b), [SENSEX, NIFTY, BANKNIFTY, INFY]);
    const levels = new Map([[NIFTY, 24000], [BANKNIFTY, 52000], [SENSEX, 80000]]);
    for (const [token, level] of levels) {
      const tick = ticks.get(token);
      assert.equal(tick?.kind, "index", `token ${token}`);
      assert.equal(tick.mode, "quote");
      assert.equal(tick.tradable, false);
      assert.ok(Math.abs(tick.last_price - level) / level < 0.1, `${token} at ${tick.last_price}`);
    }
    const infy = ticks.get(INFY);
    assert.equal(infy?.kind, "quote");
    assert.equal(infy.mode, "quote");
    assert.equal(infy.tradable, true);
    assert.ok(infy.volume > 0);
    // Re-subscribing keeps the mode and sends no cached tick; a new token's tick proves it.
    probe.send({ a: "mode", v: ["full", [INFY]] });
    probe.send({ a: "subscribe", v: [INFY] });
    probe.send({ a: "subscribe", v: [341249] });
    const cached = await probe.next((e) =>
      isTicks(e) && e.decoded.ticks.some((t) => t.instrument_token === 341249)
    );
    assert.ok(isTicks(cached));
    assert.deepEqual(cached.decoded.ticks.map((t) => [t.instrument_token, t.mode]), [[
      341249,
      "quote",
    ]]);
    assert.equal(sim.stats().subscriptions[String(INFY)], "full");
    const sensex = ticks.get(SENSEX);
    assert.ok(sensex?.kind === "index" && sensex.exchange_timestamp === 0, "quote has no time");
    await probe.close();
  });
});

Deno.test("mode switches are honoured: full carries depth and timestamps, ltp only a price", async () => {
  await withSimulator(async (sim, clock) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, INFY] });
    await probe.next(isTicks);
    probe.send({ a: "mode", v: ["full", [NIFTY, INFY]] });
    const full = await probe.next((e) =>
      isTicks(e) && e.decoded.ticks.some((t) => t.mode === "full")
    );
    assert.ok(isTicks(full));
    const ticks = byToken(full.decoded.ticks);
    const seconds = Math.floor(clock.now() / 1000);
    const nifty = ticks.get(NIFTY);
    assert.equal(nifty?.kind, "index");
    assert.equal(nifty.mode, "full");
    assert.equal(nifty.exchange_timestamp, seconds);
    const infy = ticks.get(INFY);
    assert.equal(infy?.kind, "quote");
    assert.equal(infy.mode, "full");
    assert.equal(infy.exchange_timestamp, seconds);
    assert.equal(infy.last_trade_time, seconds);
    assert.equal(infy.depth.buy.length, 5);
    assert.equal(infy.depth.sell.length, 5);
    assert.ok((infy.depth.buy[0]?.price ?? Infinity) < (infy.depth.sell[0]?.price ?? 0));
    probe.send({ a: "mode", v: ["ltp", [INFY]] });
    const ltp = await probe.next((e) =>
      isTicks(e) && e.decoded.ticks.some((t) => t.kind === "ltp")
    );
    assert.ok(isTicks(ltp));
    assert.deepEqual(ltp.decoded.ticks.map((t) => [t.instrument_token, t.mode]), [[INFY, "ltp"]]);
    assert.deepEqual(sim.stats().subscriptions, { [NIFTY]: "full", [INFY]: "ltp" });
    await probe.close();
  });
});

Deno.test("prices are whole units of each segment and most ticks change", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    const divisors = new Map([[NIFTY, 100], [INFY, 100], [USDINR_CDS, 1e7], [USDINR_BCD, 1e4]]);
    const tokens = [...divisors.keys()];
    probe.send({ a: "subscribe", v: tokens });
    probe.send({ a: "mode", v: ["full", tokens] });
    const seen: Tick[] = [];
    for (let i = 0; i < 8; i++) seen.push(...(await probe.next(isTicks)).decoded.ticks);
    const prices = new Set<string>();
    for (const tick of seen) {
      const units = tick.last_price * (divisors.get(tick.instrument_token) ?? NaN);
      assert.ok(Math.abs(units - Math.round(units)) < 1e-3, `${tick.last_price}`);
      assert.ok(tick.last_price > 0);
      prices.add(`${tick.instrument_token}:${tick.last_price}`);
    }
    // Currency futures trade near ₹83.5 whatever the divisor: the segment decides it.
    for (const token of [USDINR_CDS, USDINR_BCD]) {
      const tick = seen.find((t) => t.instrument_token === token);
      assert.ok(tick !== undefined && Math.abs(tick.last_price - 83.5) < 5, `${token}`);
    }
    // Eight messages after the cached ones: prices moved (cached + changes, not repeats).
    assert.ok(prices.size > 4, `only ${prices.size} distinct prices`);
    await probe.close();
  });
});

Deno.test("an unknown instrument token is accepted but never ticks", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    const unknown = 12345601;
    probe.send({ a: "subscribe", v: [unknown, INFY] });
    for (let i = 0; i < 6; i++) {
      const tokens = (await probe.next(isTicks)).decoded.ticks.map((t) => t.instrument_token);
      assert.deepEqual(tokens, [INFY]);
    }
    assert.deepEqual(sim.stats().subscriptions, { [unknown]: "quote", [INFY]: "quote" });
    await probe.close();
  });
});

Deno.test("each socket gets ticks in the modes it asked for", async () => {
  await withSimulator(async (sim) => {
    const full = await openProbe(sim);
    const ltp = await openProbe(sim);
    for (const probe of [full, ltp]) probe.send({ a: "subscribe", v: [NIFTY, INFY] });
    full.send({ a: "mode", v: ["full", [NIFTY, INFY]] });
    ltp.send({ a: "mode", v: ["ltp", [NIFTY, INFY]] });
    // Skip the cached quote ticks; then every message is in the socket's own mode.
    const modeOf = (e: ProbeEvent) =>
      isTicks(e) ? new Set(e.decoded.ticks.map((t) => `${t.kind}/${t.mode}`)) : new Set();
    await full.next((e) => modeOf(e).has("quote/full"));
    await ltp.next((e) => modeOf(e).has("ltp/ltp"));
    for (let i = 0; i < 4; i++) {
      for (
        const [probe, kinds] of [[full, ["index/full", "quote/full"]], [ltp, ["ltp/ltp"]]] as const
      ) {
        const event = await probe.next(isTicks);
        for (const kind of modeOf(event)) {
          assert.ok((kinds as readonly string[]).includes(kind as string), `${kind}`);
        }
      }
    }
    const sockets = sim.stats().sockets.map((s) => s.subscriptions);
    assert.deepEqual(sockets, [{ [NIFTY]: "full", [INFY]: "full" }, {
      [NIFTY]: "ltp",
      [INFY]: "ltp",
    }]);
    await Promise.all([full.close(), ltp.close()]);
  });
});

Deno.test("heartbeats come only on an idle socket, never between ticks", async () => {
  const heartbeatMs = 1000;
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    const first = await probe.next(isHeartbeat);
    const second = await probe.next(isHeartbeat);
    // Idle: one beat per silence of heartbeatMs, not more often.
    assert.ok(second.at - first.at >= heartbeatMs * 0.9, `${second.at - first.at} ms apart`);
    const tokens = optionTokens(40); // 0.15^40: every round changes at least one of them
    probe.send({ a: "subscribe", v: tokens });
    const start = await probe.next(isTicks);
    let ticks = 0;
    const during = await probe.next((e) =>
      e.kind === "binary" && (isHeartbeat(e) || ++ticks === 60)
    );
    assert.ok(isTicks(during), `a heartbeat after ${ticks} tick messages`);
    assert.ok(during.at - start.at > heartbeatMs, "the window was not longer than a heartbeat");
    assert.equal(sim.stats().sockets[0]?.heartbeats_sent, 2);
    probe.send({ a: "unsubscribe", v: tokens });
    await probe.next(isHeartbeat);
    await probe.close();
  }, { tickMs: 20, heartbeatMs });
});

Deno.test("unsubscribe stops an instrument's ticks", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, BANKNIFTY] });
    await probe.next(isTicks);
    probe.send({ a: "unsubscribe", v: [NIFTY] });
    // Requests are handled in order: SENSEX's cached tick proves the unsubscribe was seen.
    probe.send({ a: "subscribe", v: [SENSEX] });
    await probe.next((e) =>
      isTicks(e) && e.decoded.ticks.length === 1 && e.decoded.ticks[0]?.instrument_token === SENSEX
    );
    for (let i = 0; i < 4; i++) {
      const tokens = (await probe.next(isTicks)).decoded.ticks.map((t) => t.instrument_token);
      assert.ok(!tokens.includes(NIFTY), `NIFTY still ticking: ${tokens}`);
    }
    assert.deepEqual(sim.stats().subscriptions, { [BANKNIFTY]: "quote", [SENSEX]: "quote" });
    await probe.close();
  });
});

Deno.test("a 4th socket for one api_key is refused with 429", async () => {
  await withSimulator(async (sim) => {
    const probes = [await openProbe(sim), await openProbe(sim), await openProbe(sim)];
    const message = await new WsProbe(tickerUrl(sim, sim.issueAccessToken())).refused();
    assert.match(message, /429/);
    assert.equal(sim.stats().sockets_open, 3);
    await Promise.all(probes.map((p) => p.close()));
  });
});

Deno.test("subscribing past 3000 instruments keeps 3000 and sends an error text message", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    const tokens = optionTokens(3005);
    probe.send({ a: "subscribe", v: tokens });
    const error = await probe.next((e) => e.kind === "text");
    assert.ok(error.kind === "text");
    const parsed = parseTextMessage(error.text);
    assert.equal(parsed.type, "error");
    assert.match(String("data" in parsed ? parsed.data : ""), /3000/);
    const cached = await probe.next(isTicks);
    assert.equal(cached.decoded.ticks.length, 3000);
    assert.equal(Object.keys(sim.stats().subscriptions).length, 3000);
    await probe.close();
  });
});

Deno.test("/_sim/expire kills tokens but keeps open sockets open; the next handshake gets 403", async () => {
  await withSimulator(async (sim) => {
    const token = sim.issueAccessToken();
    const probe = new WsProbe(tickerUrl(sim, token));
    await probe.opened();
    await control(sim, "expire");
    await probe.next(isHeartbeat);
    assert.equal(probe.socket.readyState, WebSocket.OPEN);
    assert.match(await new WsProbe(tickerUrl(sim, token)).refused(), /403/);
    const profile = await fetch(`${sim.url}/user/profile`, {
      headers: { authorization: `token ${CREDENTIALS.apiKey}:${token}`, "x-kite-version": "3" },
    });
    assert.equal(profile.status, 403);
    await profile.body?.cancel();
    await probe.close();
  });
});

Deno.test("/_sim/drop ends every socket with a non-1000 close", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    assert.deepEqual(await control(sim, "drop"), { dropped: 1 });
    const closed = await probe.next((e) => e.kind === "close");
    assert.ok(closed.kind === "close");
    assert.equal(closed.code, DROP_CLOSE_CODE);
    assert.notEqual(closed.code, 1000);
  });
});

Deno.test("/_sim/stall sends nothing for the given time, then heartbeats resume", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY] });
    await probe.next(isTicks);
    const stallMs = 400;
    const asked = performance.now();
    await control(sim, `stall?ms=${stallMs}`);
    // One message may have been on the wire before the stall began; skip what arrives early.
    const resumed = await probe.next((e) => e.kind === "binary" && e.at - asked > stallMs / 2);
    assert.ok(resumed.at - asked >= stallMs * 0.9, `resumed after ${resumed.at - asked} ms`);
    assert.equal(probe.socket.readyState, WebSocket.OPEN);
    await probe.next(isHeartbeat);
    await probe.close();
  });
});

Deno.test("/_sim/garbage sends one malformed binary message", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    assert.deepEqual(await control(sim, "garbage"), { sent: 1 });
    const garbage = await probe.next(isTicks);
    assert.ok(garbage.decoded.errors > 0);
    await probe.close();
  });
});

Deno.test("/_sim/text-error sends a {type: error} text message", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    await control(sim, "text-error");
    const text = await probe.next((e) => e.kind === "text");
    assert.ok(text.kind === "text");
    assert.equal(parseTextMessage(text.text).type, "error");
    await probe.close();
  });
});

Deno.test("/_sim/refuse answers upgrades with 503 until it ends", async () => {
  await withSimulator(async (sim) => {
    await control(sim, "refuse?ms=60000");
    assert.match(await new WsProbe(tickerUrl(sim, sim.issueAccessToken())).refused(), /503/);
    await control(sim, "refuse?ms=0");
    const probe = await openProbe(sim);
    await probe.close();
    assert.deepEqual(sim.stats().handshakes, { accepted: 1, rejected: 1 });
  });
});

Deno.test("/_sim/stats counts handshakes, open sockets, ticks and subscriptions", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, SENSEX] });
    probe.send({ a: "mode", v: ["full", [SENSEX]] });
    let received = 0;
    for (let i = 0; i < 3; i++) received += (await probe.next(isTicks)).decoded.ticks.length;
    const stats = await control(sim, "stats", { method: "GET" });
    assert.deepEqual(stats["handshakes"], { accepted: 1, rejected: 0 });
    assert.equal(stats["sockets_open"], 1);
    assert.ok(typeof stats["ticks_sent"] === "number" && stats["ticks_sent"] >= received);
    assert.deepEqual(stats["subscriptions"], { [NIFTY]: "quote", [SENSEX]: "full" });
    await probe.close();
  });
});

Deno.test("/_sim/stall and /_sim/refuse reject a missing or negative ms with 400", async () => {
  await withSimulator(async (sim) => {
    for (const path of ["stall", "stall?ms=-1", "refuse?ms=abc"]) {
      const response = await fetch(`${sim.url}/_sim/${path}`, { method: "POST" });
      assert.equal(response.status, 400, path);
      assert.equal((await response.json()).error_type, "InputException");
    }
  });
});

/** 2026-01-05, a Monday, at `hh:mm` IST, in epoch ms. */
function ist(day: number, hh: number, mm: number): number {
  return Date.UTC(2026, 0, day, hh, mm) - 330 * 60_000;
}

Deno.test("--market-hours: a closed market sends the cached tick on subscribe, then heartbeats only until it opens", async () => {
  await withSimulator(async (sim, clock) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, INFY] });
    const cached = await probe.next(isTicks);
    assert.equal(cached.decoded.ticks.length, 2);
    assert.equal(sim.stats().market_moving, false);
    let ticks = 0;
    for (let beats = 0; beats < 4;) {
      const event = await probe.next((e) => e.kind === "binary");
      if (isHeartbeat(event)) beats++;
      else ticks++;
    }
    assert.equal(ticks, 0, "ticks while the market was closed");
    clock.tick(ist(6, 9, 0) - clock.now()); // Tuesday 09:00 IST: pre-open order entry
    const moved = await probe.next(isTicks);
    assert.ok(moved.decoded.ticks.length > 0);
    assert.equal(sim.stats().market_moving, true);
    await probe.close();
  }, { marketHours: true, start: ist(5, 17, 30) });
});

Deno.test("a 4th socket's refusal is Kite's error body with status 429", async () => {
  await withSimulator(async (sim) => {
    const probes = [await openProbe(sim), await openProbe(sim), await openProbe(sim)];
    const response = await fetch(
      tickerUrl(sim, sim.issueAccessToken()).replace(/^ws:/, "http:"),
      { headers: { upgrade: "websocket", connection: "Upgrade" } },
    );
    assert.equal(response.status, 429);
    const body = await response.json();
    assert.equal(body.status, "error");
    assert.equal(body.error_type, "NetworkException");
    assert.match(body.message, /3/);
    await probes[0]?.close();
    const fourth = await openProbe(sim); // a freed slot is usable at once
    await Promise.all([fourth, ...probes.slice(1)].map((p) => p.close()));
  });
});

Deno.test("/_sim/stats counts each socket's subscribe, unsubscribe and mode messages and re-subscribed tokens", async () => {
  await withSimulator(async (sim) => {
    const probe = await openProbe(sim);
    probe.send({ a: "subscribe", v: [NIFTY, SENSEX] });
    probe.send({ a: "subscribe", v: [INFY, NIFTY] });
    probe.send({ a: "mode", v: ["ltp", [INFY]] });
    probe.send({ a: "unsubscribe", v: [SENSEX] });
    probe.send({ a: "subscribe", v: [BANKNIFTY] });
    await probe.next((e) =>
      isTicks(e) && e.decoded.ticks.some((t) => t.instrument_token === BANKNIFTY)
    );
    const [socket] = sim.stats().sockets;
    assert.equal(socket?.subscribe_messages, 3);
    assert.equal(socket?.resubscribed, 1, "NIFTY named twice");
    assert.equal(socket?.unsubscribe_messages, 1);
    assert.equal(socket?.mode_messages, 1);
    assert.ok((socket?.ticks_sent ?? 0) >= 4);
    await probe.close();
  });
});
