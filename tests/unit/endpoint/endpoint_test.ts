import assert from "node:assert/strict";
import { encode, type Mode, type Tick } from "../../../src/kite/packets.ts";
import { Market } from "../../../src/simulator/market.ts";
import { CLOSE_SLOW } from "../../../src/endpoint/endpoint.ts";
import { isHeartbeat, isTicks, type ProbeEvent, WsProbe } from "../../_support/ws_probe.ts";
import { KITE_TOKEN, startEndpoint } from "../../_support/endpoint_fixture.ts";

const NIFTY = 256265;
const INFY = 408065;
const RELIANCE = 738561;

function ticks(tokens: readonly number[], mode: Mode = "full", at = 1_780_000_000_000): Tick[] {
  const market = new Market({ now: () => at, random: () => 0.42 });
  return tokens.map((token) => market.tick(token, mode));
}

function isText(event: ProbeEvent): event is Extract<ProbeEvent, { kind: "text" }> {
  return event.kind === "text";
}

async function connected(url: string): Promise<WsProbe> {
  const probe = new WsProbe(url);
  await probe.opened();
  return probe;
}

/** Resolves once the endpoint has handled `count` requests in all (they arrive async). */
async function handled(stats: () => { requests_total: number }, count: number): Promise<void> {
  while (stats().requests_total < count) await new Promise((r) => setTimeout(r, 5));
}

Deno.test("a wrong api_key or access_token gets Kite's 403 at the upgrade", async () => {
  await using fx = startEndpoint();
  for (
    const given of [{ apiKey: "other" }, { token: "nope" }, { token: "" }, { token: KITE_TOKEN }]
  ) {
    const probe = new WsProbe(fx.url(given));
    assert.match(await probe.refused(), /403/);
  }
  const response = await fx.endpoint.upgrade(
    new Request(fx.url({ token: "nope" }).replace("ws:", "http:"), {
      headers: { upgrade: "websocket" },
    }),
  );
  assert.equal(response.status, 403);
  assert.deepEqual(await response.json(), {
    status: "error",
    message: "Incorrect `api_key` or `access_token`.",
    data: null,
    error_type: "TokenException",
  });
  assert.equal(fx.endpoint.stats().refused_total.auth, 5);
  assert.ok(fx.lines.every((line) => !line.includes("nope")));
});

Deno.test("the current Kite token opens the endpoint too, once there is one", async () => {
  await using fx = startEndpoint();
  fx.live();
  const probe = await connected(fx.url({ token: KITE_TOKEN }));
  await probe.close();
});

Deno.test("each client gets only its instruments, each cut to its mode", async () => {
  await using fx = startEndpoint();
  const a = await connected(fx.url());
  const b = await connected(fx.url());
  a.send({ a: "subscribe", v: [NIFTY, INFY] });
  a.send({ a: "mode", v: ["full", [NIFTY, INFY]] });
  b.send({ a: "subscribe", v: [INFY, RELIANCE] });
  b.send({ a: "mode", v: ["ltp", [INFY]] });
  await handled(fx.endpoint.stats, 4);
  fx.endpoint.publish(encode(ticks([NIFTY, INFY, RELIANCE])));
  const gotA = await a.next(isTicks);
  const gotB = await b.next(isTicks);
  assert.deepEqual(gotA.decoded.ticks, ticks([NIFTY, INFY], "full"));
  assert.deepEqual(gotB.decoded.ticks, [...ticks([INFY], "ltp"), ...ticks([RELIANCE], "quote")]);
  await a.close();
  await b.close();
});

Deno.test("a subscribe gets the last tick held at once; the union goes upstream once", async () => {
  await using fx = startEndpoint({ base: new Map<number, Mode>([[NIFTY, "full"]]) });
  fx.endpoint.publish(encode(ticks([NIFTY])));
  const a = await connected(fx.url());
  const b = await connected(fx.url());
  a.send({ a: "subscribe", v: [NIFTY, INFY] });
  const cached = await a.next(isTicks);
  assert.deepEqual(cached.decoded.ticks, ticks([NIFTY], "quote"));
  b.send({ a: "subscribe", v: [INFY] });
  b.send({ a: "mode", v: ["full", [INFY]] });
  await handled(fx.endpoint.stats, 3);
  fx.clock.tick(20); // the requests of one burst make one plan
  assert.equal(fx.plans.length, 1);
  assert.deepEqual([...fx.plans[0]![0]!.instruments], [[NIFTY, "full"], [INFY, "full"]]);
  await b.close();
  await new Promise((r) => setTimeout(r, 20));
  fx.clock.tick(20);
  assert.deepEqual([...fx.plans.at(-1)![0]!.instruments], [[NIFTY, "full"], [INFY, "quote"]]);
  a.send({ a: "unsubscribe", v: [NIFTY, INFY] });
  await handled(fx.endpoint.stats, 4);
  fx.clock.tick(20);
  assert.deepEqual([...fx.plans.at(-1)![0]!.instruments], [[NIFTY, "full"]]);
  assert.deepEqual(fx.endpoint.stats().shards, [1]);
  await a.close();
});

Deno.test("a client's mistakes get Kite's error text and the connection stays", async () => {
  await using fx = startEndpoint();
  const probe = await connected(fx.url());
  probe.socket.send("{not json");
  assert.match(
    (await probe.next(isText)).text,
    /^\{"type":"error","data":"Invalid message: not JSON"\}$/,
  );
  probe.send({ a: "buy", v: [1] });
  assert.match(JSON.parse((await probe.next(isText)).text).data, /unknown action "buy"/);
  probe.send({ a: "subscribe", v: Array.from({ length: 9001 }, (_, i) => i + 1) });
  const limit = JSON.parse((await probe.next(isText)).text);
  assert.equal(limit.type, "error");
  assert.match(limit.data, /Subscription limit exceeded.*not subscribed: 9001$/);
  fx.endpoint.publish(encode(ticks([5])));
  assert.equal((await probe.next(isTicks)).decoded.ticks[0]?.instrument_token, 5);
  assert.equal(probe.socket.readyState, WebSocket.OPEN);
  await probe.close();
});

Deno.test("a request over the size limit, or in binary, gets an error text; the connection stays", async () => {
  await using fx = startEndpoint({ limits: { maxRequestBytes: 1024 } });
  const probe = await connected(fx.url());
  probe.send({ a: "subscribe", v: Array.from({ length: 300 }, (_, i) => i + 1) });
  assert.match(JSON.parse((await probe.next(isText)).text).data, /characters; the limit is 1024/);
  probe.socket.send(new Uint8Array([1, 2, 3]));
  assert.match(JSON.parse((await probe.next(isText)).text).data, /not binary/);
  probe.send({ a: "subscribe", v: [INFY] });
  await handled(fx.endpoint.stats, 3);
  fx.clock.tick(20);
  assert.deepEqual([...fx.plans.at(-1)![0]!.instruments.keys()], [INFY]);
  assert.equal(fx.endpoint.stats().request_errors_total, 2);
  await probe.close();
});

Deno.test("an idle client gets a 1-byte heartbeat about every second", async () => {
  await using fx = startEndpoint();
  const probe = await connected(fx.url());
  fx.clock.tick(500);
  fx.clock.tick(500);
  const beat = await probe.next(isHeartbeat);
  assert.equal(beat.bytes.byteLength, 1);
  await probe.close();
});

Deno.test("requests past the burst are ignored with one error text", async () => {
  await using fx = startEndpoint({ limits: { burst: 3, requestsPerSecond: 1 } });
  const probe = await connected(fx.url());
  for (let i = 1; i <= 6; i++) probe.send({ a: "subscribe", v: [i] });
  await handled(fx.endpoint.stats, 6);
  const error = JSON.parse((await probe.next(isText)).text);
  assert.match(error.data, /Too many requests/);
  fx.clock.tick(20);
  assert.deepEqual([...fx.plans.at(-1)![0]!.instruments.keys()], [1, 2, 3]);
  fx.clock.tick(1000);
  probe.send({ a: "subscribe", v: [7] });
  await handled(fx.endpoint.stats, 7);
  fx.clock.tick(20);
  assert.deepEqual([...fx.plans.at(-1)![0]!.instruments.keys()], [1, 2, 3, 7]);
  await probe.close();
});

Deno.test("at most maxClients at once: the next gets 429", async () => {
  await using fx = startEndpoint({ limits: { maxClients: 2 } });
  const a = await connected(fx.url());
  const b = await connected(fx.url());
  assert.match(await new WsProbe(fx.url()).refused(), /429/);
  await a.close();
  await new Promise((r) => setTimeout(r, 20));
  const c = await connected(fx.url());
  assert.equal(fx.endpoint.stats().refused_total.full, 1);
  await b.close();
  await c.close();
});

Deno.test("order updates go to every client, once even when several sockets carry them", async () => {
  await using fx = startEndpoint();
  const a = await connected(fx.url());
  const b = await connected(fx.url());
  const order = '{"type":"order","data":{"order_id":"1","status":"COMPLETE"}}';
  fx.endpoint.forward(order);
  fx.endpoint.forward(order);
  assert.equal((await a.next(isText)).text, order);
  assert.equal((await b.next(isText)).text, order);
  assert.equal(fx.endpoint.stats().messages_out_total, 2);
  await a.close();
  await b.close();
});

Deno.test("notices reach only clients that asked: state changes and the gap", async () => {
  await using fx = startEndpoint();
  fx.live();
  const asked = await connected(fx.url());
  const plain = await connected(fx.url());
  asked.send({ a: "kitekeeper", v: ["notices"] });
  const first = JSON.parse((await asked.next(isText)).text);
  assert.deepEqual([first.type, first.data.kitekeeper, first.data.state], [
    "message",
    "state",
    "Live",
  ]);
  const lostAt = fx.clock.now();
  fx.drop();
  fx.live();
  const states = [
    JSON.parse((await asked.next(isText)).text).data.state,
    JSON.parse((await asked.next(isText)).text).data.state,
  ];
  assert.deepEqual(states, ["Reconnecting", "Live"]);
  const gap = JSON.parse((await asked.next(isText)).text).data;
  assert.deepEqual(gap, {
    kitekeeper: "gap",
    from: new Date(lostAt).toISOString(),
    to: new Date(fx.clock.now()).toISOString(),
    seconds: (fx.clock.now() - lostAt) / 1000,
  });
  // The first text the other client sees is this order update: no notice came before it.
  const order = '{"type":"order","data":{}}';
  fx.endpoint.forward(order);
  assert.equal((await plain.next(isText)).text, order);
  await asked.close();
  await plain.close();
});

Deno.test("a client that stops reading is closed when its queue fills; the others go on", async () => {
  await using fx = startEndpoint({ limits: { maxQueuedBytes: 256 * 1024 } });
  const reader = await connected(fx.url());
  // A client that completes the handshake, subscribes, and never reads again.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(fx.url()).port) });
  const path = new URL(fx.url());
  await conn.write(new TextEncoder().encode(
    `GET ${path.pathname}${path.search} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  const subscribe = new TextEncoder().encode('{"a":"subscribe","v":[408065]}');
  const frame = new Uint8Array([0x81, 0x80 | subscribe.length, 0, 0, 0, 0, ...subscribe]);
  await conn.write(frame);
  reader.send({ a: "subscribe", v: [INFY] });
  await handled(fx.endpoint.stats, 2);
  const message = encode(ticks(Array.from({ length: 3000 }, () => INFY)));
  let rounds = 0;
  while (fx.endpoint.stats().slow_drops_total === 0 && rounds++ < 500) {
    fx.endpoint.publish(message);
    await reader.next(isTicks);
  }
  assert.equal(fx.endpoint.stats().slow_drops_total, 1);
  assert.equal(fx.endpoint.stats().clients, 1);
  assert.ok(fx.lines.some((line) => line.includes("stopped reading")));
  fx.endpoint.publish(message);
  await reader.next(isTicks);
  assert.equal(CLOSE_SLOW, 4008);
  conn.close();
  await reader.close();
});

Deno.test("a client that disconnects mid-message is forgotten; the others go on", async () => {
  await using fx = startEndpoint();
  const reader = await connected(fx.url());
  reader.send({ a: "subscribe", v: [INFY] });
  const target = new URL(fx.url());
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(target.port) });
  await conn.write(new TextEncoder().encode(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  ));
  while (fx.endpoint.stats().clients < 2) await new Promise((r) => setTimeout(r, 5));
  // A masked text frame that announces 30 bytes and carries 10, then the connection ends.
  await conn.write(new Uint8Array([0x81, 0x80 | 30, 1, 2, 3, 4, ...new Uint8Array(10)]));
  conn.close();
  while (fx.endpoint.stats().clients > 1) await new Promise((r) => setTimeout(r, 5));
  fx.endpoint.publish(encode(ticks([INFY])));
  assert.deepEqual((await reader.next(isTicks)).decoded.ticks, ticks([INFY], "quote"));
  await reader.close();
});

Deno.test("100 clients connecting at once: all served up to maxClients, the rest get 429", async () => {
  await using fx = startEndpoint({ limits: { maxClients: 80 } });
  const probes = Array.from({ length: 100 }, () => new WsProbe(fx.url()));
  const outcomes = await Promise.all(
    probes.map((probe) => probe.next((e) => e.kind === "open" || e.kind === "error")),
  );
  assert.equal(outcomes.filter((e) => e.kind === "open").length, 80);
  assert.equal(fx.endpoint.stats().refused_total.full, 20);
  const open = probes.filter((_, i) => outcomes[i]!.kind === "open");
  for (const probe of open) probe.send({ a: "subscribe", v: [NIFTY] });
  await handled(fx.endpoint.stats, 80);
  fx.endpoint.publish(encode(ticks([NIFTY])));
  await Promise.all(open.map((probe) => probe.next(isTicks)));
  await Promise.all(probes.map((probe) => probe.close()));
});
