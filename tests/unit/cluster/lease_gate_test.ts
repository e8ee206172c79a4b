import assert from "node:assert/strict";
import { systemClock } from "../../../src/clock.ts";
import { gateSockets, type LeaseGate } from "../../../src/cluster/lease_gate.ts";
import { createTickerPort } from "../../../src/kite/ticker.ts";
import { type Actor, createActor } from "../../../src/lifecycle/actor.ts";
import type { Event } from "../../../src/lifecycle/machine.ts";
import { startSimulator } from "../../../src/simulator/simulator.ts";
import { fingerprint } from "../../../src/token/fingerprint.ts";
import { eventually } from "../../_support/redis_fixture.ts";
import { CREDENTIALS, simOptions } from "../../_support/sim_fixture.ts";

const INSTRUMENTS = [256265, 408065];

Deno.test("gateSockets() a standby's lifecycle runs on virtual sockets; holding opens them for real and replays", async () => {
  const sim = await startSimulator(simOptions({ tickMs: 40 }));
  const ticked = new Set<number>();
  // Called only once the ticker reports, after gate and actor exist.
  function deliver(event: Event): void {
    const passed = gate.filter(event);
    if (passed !== null) actor.send(passed);
  }
  const ticker = createTickerPort(`${sim.url.replace("http", "ws")}/ws`, {
    apiKey: CREDENTIALS.apiKey,
    handshakeTimeoutMs: 5_000,
    timers: systemClock(),
    handlers: {
      opened: (gen) => deliver({ type: "SocketOpened", gen }),
      binary(gen, decoded) {
        if (decoded.kind === "ticks") {
          for (const tick of decoded.ticks) ticked.add(tick.instrument_token);
        }
        deliver({ type: "DataReceived", gen });
      },
      text() {},
      failed: (gen, failure) =>
        deliver({ type: "SocketFailed", gen, kind: failure.kind, detail: failure.detail }),
    },
  });
  const gate: LeaseGate = gateSockets(ticker, {
    send: (event) => actor.send(event),
    clock: systemClock(),
    heartbeatMs: 100,
  });
  const actor: Actor = createActor({
    ports: {
      socket: gate.port,
      probe: () => Promise.resolve({ result: "ok" }),
      clock: systemClock(),
      log() {},
      notify() {},
    },
    lifecycle: {
      subscriptions: { tokens: INSTRUMENTS, mode: "full" },
      stallMs: 400,
      backoffBaseMs: 20,
      backoffCapMs: 200,
    },
  });
  const live = () => actor.snapshot().state.name === "Live";
  try {
    const token = sim.issueAccessToken();
    actor.send({
      type: "TokenLoaded",
      token,
      fingerprint: await fingerprint(token),
      source: "startup",
    });
    await eventually("Live on a virtual socket", live);
    // Several stall limits pass: still Live, and the simulator never saw a socket.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.ok(live());
    assert.equal(sim.stats().sockets_open, 0);
    assert.equal(sim.stats().handshakes.accepted, 0);
    assert.equal(gate.realSockets(), 0);

    gate.hold();
    await eventually("real ticks for every instrument", () => ticked.size === INSTRUMENTS.length);
    assert.equal(sim.stats().sockets_open, 1);
    assert.deepEqual(
      Object.keys(sim.stats().subscriptions).map(Number).sort(),
      [...INSTRUMENTS].sort(),
      "the subscriptions were replayed",
    );
    assert.ok(live());

    gate.standBy();
    await eventually("the socket closed", () => sim.stats().sockets_open === 0);
    ticked.clear();
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.ok(live(), "the lifecycle did not notice");
    assert.equal(ticked.size, 0);

    gate.hold();
    await eventually("real again", () => ticked.size === INSTRUMENTS.length);
    assert.equal(sim.stats().handshakes.accepted, 2);
  } finally {
    await actor.stop();
    gate[Symbol.dispose]();
    await ticker.closeAll();
    await sim.close();
  }
});
