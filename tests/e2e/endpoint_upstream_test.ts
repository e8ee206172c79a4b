/**
 * The endpoint's upstream: local clients' subscriptions, merged, on kitekeeper's sockets to
 * the simulator (one subscription per instrument, at the highest mode asked; a new socket
 * past 3000; Kite's error text past 9000), and a drop of the upstream while clients subscribe.
 */
import assert from "node:assert/strict";
import type { Mode } from "../../src/kite/packets.ts";
import type { Snapshot } from "../../src/lifecycle/machine.ts";
import {
  envText,
  type Harness,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { optionTokens } from "../../src/simulator/instruments.ts";
import { isTicks, type ProbeEvent, WsProbe } from "../_support/ws_probe.ts";

const CLIENT_TOKEN = "strategy-box-0123456789abcdef";

async function harnessWith(instruments: readonly number[], tickMs = 40): Promise<Harness> {
  const harness = await startHarness({
    tickMs,
    env: (sim) =>
      envText(sim.url, [
        `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
        `KITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}`,
        `KITEKEEPER_INSTRUMENTS=${instruments.join(",")}`,
        "KITEKEEPER_MODE=ltp",
      ]),
  });
  await waitFor(harness.daemon, "Live", (s) => s.state.name === "Live");
  return harness;
}

async function client(harness: Harness): Promise<WsProbe> {
  const url = `${harness.daemon.url.replace("http", "ws")}/ws?api_key=${KITE.apiKey}` +
    `&access_token=${CLIENT_TOKEN}`;
  const probe = new WsProbe(url);
  await probe.opened();
  return probe;
}

/** The simulator's sockets' subscriptions: token → mode for each, and merged. */
function upstream(harness: Harness): { sockets: Map<number, Mode>[]; all: Map<number, Mode> } {
  const stats = harness.sim.stats();
  const sockets = stats.sockets.map((s) =>
    new Map(Object.entries(s.subscriptions).map(([t, m]) => [Number(t), m]))
  );
  return { sockets, all: new Map(sockets.flatMap((s) => [...s])) };
}

/** Waits (on each snapshot change: data arrives every heartbeat) until `check` holds. */
function until(harness: Harness, what: string, check: () => boolean): Promise<Snapshot> {
  return waitFor(harness.daemon, what, () => check(), { timeoutMs: 15_000 });
}

function isText(event: ProbeEvent): event is Extract<ProbeEvent, { kind: "text" }> {
  return event.kind === "text";
}

Deno.test("5 clients with overlapping subscriptions: each instrument once upstream, at the highest mode", async () => {
  const [a, b, c, d] = optionTokens(4);
  await using harness = await harnessWith([a!]);
  const clients = await Promise.all(Array.from({ length: 5 }, () => client(harness)));
  const wants: [number[], Mode][] = [
    [[a!, b!], "ltp"],
    [[b!, c!], "quote"],
    [[c!, d!], "full"],
    [[a!, d!], "quote"],
    [[a!, b!, c!, d!], "ltp"],
  ];
  wants.forEach(([tokens, mode], i) => {
    clients[i]!.send({ a: "subscribe", v: tokens });
    clients[i]!.send({ a: "mode", v: [mode, tokens] });
  });
  const expected = new Map<number, Mode>([[a!, "quote"], [b!, "quote"], [c!, "full"], [
    d!,
    "full",
  ]]);
  await until(harness, "the union upstream", () => {
    const { sockets, all } = upstream(harness);
    return sockets.length === 1 &&
      JSON.stringify([...all].sort()) === JSON.stringify([...expected].sort());
  });
  const status = harness.daemon.status();
  assert.equal(status.endpoint.clients, 5);
  assert.equal(status.endpoint.subscriptions, 12);
  assert.equal(status.endpoint.instruments, 4);
  const metrics = await (await fetch(`${harness.daemon.url}/metrics`)).text();
  assert.match(metrics, /^kitekeeper_endpoint_clients 5$/m);
  assert.match(metrics, /^kitekeeper_endpoint_subscriptions 12$/m);
  assert.match(metrics, /^kitekeeper_endpoint_messages_out_total \d+$/m);

  // The last clients wanting full and quote leave: modes drop, a (configured, ltp) stays.
  await clients[2]!.close();
  await clients[3]!.close();
  await clients[1]!.close();
  const after = new Map<number, Mode>([[a!, "ltp"], [b!, "ltp"], [c!, "ltp"], [d!, "ltp"]]);
  await until(
    harness,
    "modes dropped",
    () => JSON.stringify([...upstream(harness).all].sort()) === JSON.stringify([...after].sort()),
  );
  await clients[0]!.close();
  await clients[4]!.close();
  await until(
    harness,
    "only the configured instrument",
    () => JSON.stringify([...upstream(harness).all]) === JSON.stringify([[a!, "ltp"]]),
  );
});

Deno.test("5000 instruments take 2 upstream sockets; the 9001st gets Kite's error text", async () => {
  const tokens = optionTokens(9001);
  // The configured instruments are among the client's, so the union is the client's list.
  await using harness = await harnessWith(tokens.slice(0, 3), 1000);
  const probe = await client(harness);
  probe.send({ a: "subscribe", v: tokens.slice(0, 5000) });
  await until(harness, "two sockets", () => {
    const { sockets, all } = upstream(harness);
    return sockets.length === 2 && all.size === 5000;
  });
  assert.deepEqual(upstream(harness).sockets.map((s) => s.size).sort(), [2000, 3000]);

  probe.send({ a: "subscribe", v: tokens });
  const error = JSON.parse((await probe.next(isText)).text);
  assert.equal(error.type, "error");
  assert.match(error.data, new RegExp(`not subscribed: ${tokens[9000]}$`));
  await until(harness, "three full sockets", () => {
    const { sockets, all } = upstream(harness);
    return sockets.length === 3 && all.size === 9000;
  });
  assert.equal(upstream(harness).all.has(tokens[9000]!), false);
  assert.equal(probe.socket.readyState, WebSocket.OPEN);
  await probe.close();
});

Deno.test("the upstream drops while clients subscribe: the union is replayed, each gets its ticks", async () => {
  const tokens = optionTokens(40);
  await using harness = await harnessWith(tokens.slice(0, 1));
  const clients = await Promise.all(Array.from({ length: 4 }, () => client(harness)));
  const drops: Promise<unknown>[] = [];
  for (let round = 0; round < 10; round++) {
    clients.forEach((probe, i) => {
      const token = tokens[round * 4 + i]!;
      probe.send({ a: "subscribe", v: [token] });
      probe.send({ a: "mode", v: ["full", [token]] });
    });
    if (round % 3 === 0) drops.push(simControl(harness.sim, "drop"));
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  const dropped = (await Promise.all(drops)).reduce(
    (sum: number, answer) => sum + Number((answer as { dropped: number }).dropped),
    0,
  );
  assert.ok(dropped >= 1, "the upstream was dropped");
  await until(harness, "all 40 upstream in full", () => {
    const { all } = upstream(harness);
    return harness.daemon.actor.snapshot().state.name === "Live" && all.size === 40 &&
      [...all.values()].every((mode) => mode === "full");
  });
  // Each client gets a full tick for each of its instruments, after the last drop too.
  await Promise.all(clients.map(async (probe, i) => {
    const mine = new Set(tokens.filter((_, n) => n % 4 === i));
    const seen = new Set<number>();
    while (seen.size < mine.size) {
      const event = await probe.next(isTicks);
      for (const tick of event.decoded.ticks) {
        assert.ok(mine.has(tick.instrument_token), "only its own instruments");
        if (tick.mode === "full") seen.add(tick.instrument_token);
      }
    }
  }));
  assert.ok(clients.every((probe) => probe.socket.readyState === WebSocket.OPEN));
  await Promise.all(clients.map((probe) => probe.close()));
});

Deno.test("/ws is open past the admin token and served under KITEKEEPER_PUBLIC_URL's path too", async () => {
  const harness = await startHarness({
    env: (sim) => envText(sim.url, [`KITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}`]),
    config: { adminToken: "admin-token-0123456789", publicUrl: "https://kite.example/kk" },
  });
  await using _harness = harness;
  const base = harness.daemon.url;
  assert.equal((await fetch(`${base}/status`)).status, 401);
  for (const path of ["/ws", "/kk/ws"]) {
    // Not an upgrade: Kite's 400, not the admin token's 401.
    const response = await fetch(`${base}${path}`);
    assert.equal(response.status, 400, path);
    assert.equal((await response.json()).error_type, "InputException");
    const query = `api_key=${KITE.apiKey}&access_token=${CLIENT_TOKEN}`;
    const probe = new WsProbe(`${base.replace("http", "ws")}${path}?${query}`);
    await probe.opened();
    await probe.close();
  }
  assert.equal(harness.daemon.status().endpoint.url, "wss://kite.example/kk/ws");
});
