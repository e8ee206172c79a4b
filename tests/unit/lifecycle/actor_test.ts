import assert from "node:assert/strict";
import { type Clock, systemClock } from "../../../src/clock.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import {
  type Actor,
  type ActorPorts,
  createActor,
  type ProbeReport,
} from "../../../src/lifecycle/actor.ts";
import type { Event, Snapshot } from "../../../src/lifecycle/machine.ts";

// 2024-03-11 09:30 IST; the next 06:00 IST is 2024-03-12 00:30 UTC.
const T0 = Date.UTC(2024, 2, 11, 4, 0);
const EXPIRY = Date.UTC(2024, 2, 12, 0, 30);
const A = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };
const B = { token: "b".repeat(32), fingerprint: "bbbbbbbbbbb2" };
const SUBSCRIPTIONS = { tokens: [256265], mode: "full" } as const;

function loaded(token: typeof A): Event {
  return { type: "TokenLoaded", ...token, source: "file" };
}

interface Harness {
  readonly actor: Actor;
  readonly clock: FakeClock;
  /** Port calls in order: `open 1 A`, `close 1`, `subscribe 1 256265 full`, `probe A`. */
  readonly calls: string[];
  readonly lines: string[];
  readonly notices: string[];
  /** Resolvers of the probes asked so far, in order. */
  readonly probes: ((report: ProbeReport) => void)[];
}

/** Ports to replace, built with a getter for the actor (it exists only after the ports). */
type Overrides = (self: () => Actor) => Partial<ActorPorts>;

function name(token: string): string {
  return token === A.token ? "A" : token === B.token ? "B" : "?";
}

/** An actor on a FakeClock with ports that record every call, bar the `overrides`. */
function harness(overrides: Overrides = () => ({}), start = T0): Harness {
  const clock = new FakeClock(start);
  const calls: string[] = [];
  const lines: string[] = [];
  const notices: string[] = [];
  const probes: ((report: ProbeReport) => void)[] = [];
  // The override getter runs only after createActor() returns.
  const ports: ActorPorts = {
    socket: {
      open: (token, gen) => void calls.push(`open ${gen} ${name(token)}`),
      close: (gen) => void calls.push(`close ${gen}`),
      subscribe: (gen, tokens, mode) => void calls.push(`subscribe ${gen} ${tokens} ${mode}`),
      unsubscribe: (gen, tokens) => void calls.push(`unsubscribe ${gen} ${tokens}`),
    },
    probe(token) {
      calls.push(`probe ${name(token)}`);
      const { promise, resolve } = Promise.withResolvers<ProbeReport>();
      probes.push(resolve);
      return promise;
    },
    clock,
    log: (level, message) => void lines.push(`${level} ${message}`),
    notify: (reason) => void notices.push(reason),
    ...overrides(() => actor),
  };
  const actor = createActor({
    ports,
    random: () => 0.5,
    lifecycle: { subscriptions: SUBSCRIPTIONS },
  });
  return { actor, clock, calls, lines, notices, probes };
}

/** Resolves with the first snapshot `predicate` accepts, from now on. */
function until(actor: Actor, predicate: (s: Snapshot) => boolean): Promise<Snapshot> {
  return new Promise((resolve) => {
    const unsubscribe = actor.subscribe((s) => {
      if (!predicate(s)) return;
      unsubscribe();
      resolve(s);
    });
  });
}

/** A socket port that opens at once and delivers one message, like a healthy Kite. */
function healthySocket(self: () => Actor, calls: string[] = []): ActorPorts["socket"] {
  return {
    open(token, gen) {
      calls.push(`open ${gen} ${name(token)}`);
      self().send({ type: "SocketOpened", gen });
      self().send({ type: "DataReceived", gen });
    },
    close: (gen) => void calls.push(`close ${gen}`),
    subscribe: (gen) => void calls.push(`subscribe ${gen}`),
    unsubscribe: (gen) => void calls.push(`unsubscribe ${gen}`),
  };
}

Deno.test("createActor() handles events sent from inside an effect after the current event", async () => {
  const calls: string[] = [];
  const { actor, probes } = harness((self) => ({ socket: healthySocket(self, calls) }));
  const seen: string[] = [];
  actor.subscribe((s) => {
    const socket = s.shards[0]?.socket;
    seen.push(`${s.state.name}${socket ? `/${socket.phase}` : ""}`);
  });
  actor.send(loaded(A));
  // SocketOpened was sent while TokenLoaded's effects ran: one observer call per event.
  assert.deepEqual(calls, ["open 1 A", "subscribe 1"]);
  assert.deepEqual(seen, ["Reconnecting/opening", "Reconnecting/open", "Live/open"]);
  assert.equal(probes.length, 1);
  assert.equal(actor.snapshot().state.name, "Live");
  await actor.stop();
});

Deno.test("the probe runs alongside the handshake, before the socket's own events", async () => {
  const { actor, calls } = harness((self) => ({
    socket: {
      open(token, gen) {
        self().send({ type: "SocketOpened", gen });
        calls.push(`open ${gen} ${name(token)}`);
      },
      close: (gen) => void calls.push(`close ${gen}`),
      subscribe: (gen) => void calls.push(`subscribe ${gen}`),
      unsubscribe: () => {},
    },
  }));
  actor.send(loaded(A));
  assert.deepEqual(calls, ["open 1 A", "probe A", "subscribe 1"]);
  await actor.stop();
});

Deno.test("a network failure reopens on the clock after the jittered backoff", async () => {
  const { actor, clock, calls, lines } = harness();
  actor.send(loaded(A));
  actor.send({ type: "SocketFailed", gen: 1, kind: "network", detail: "ECONNREFUSED" });
  assert.ok(
    lines.includes("warn Shard 0 failed (network: ECONNREFUSED); retrying in 125 ms (attempt 2)"),
  );
  clock.tick(124);
  assert.equal(calls.filter((c) => c.startsWith("open")).length, 1);
  clock.tick(1);
  assert.deepEqual(calls.filter((c) => c.startsWith("open")), ["open 1 A", "open 2 A"]);
  assert.equal(actor.snapshot().reconnectsTotal, 1);
  await actor.stop();
});

Deno.test("the watchdog keeps one timer while data flows and stalls a silent socket", async () => {
  const { actor, clock, calls } = harness();
  actor.send(loaded(A));
  actor.send({ type: "SocketOpened", gen: 1 });
  for (let second = 0; second < 30; second++) {
    clock.tick(1_000);
    actor.send({ type: "DataReceived", gen: 1 });
    assert.equal(clock.pending, 2); // the watchdog and the expiry, never one per message
  }
  assert.equal(actor.snapshot().state.name, "Live");
  assert.ok(!calls.includes("close 1"));
  clock.tick(4_999);
  assert.ok(!calls.includes("close 1"));
  clock.tick(1);
  assert.ok(calls.includes("close 1"));
  assert.deepEqual(actor.snapshot().lastError, { kind: "stall", detail: "no data for 5000 ms" });
  clock.tick(125);
  assert.ok(calls.includes("open 2 A"));
  await actor.stop();
});

Deno.test("at the expected expiry the actor probes; a dead token keeps its feed until the socket ends", async () => {
  // Start ten seconds before 06:00 IST so the expiry is near.
  const start = EXPIRY - 10_000;
  const { actor, clock, calls, notices, probes } = harness(undefined, start);
  actor.send(loaded(A));
  actor.send({ type: "SocketOpened", gen: 1 });
  probes[0]!({ result: "ok", userId: "AB1234" });
  await until(actor, (s) => s.userId === "AB1234");
  for (let second = 0; second < 10; second++) {
    clock.tick(1_000);
    actor.send({ type: "DataReceived", gen: 1 });
  }
  assert.deepEqual(calls.filter((c) => c.startsWith("probe")), ["probe A", "probe A"]);
  assert.equal(actor.snapshot().loginNeeded, true);
  assert.equal(actor.snapshot().state.name, "Live");
  const dead = until(actor, (s) => s.tokenDead);
  probes[1]!({ result: "auth", detail: "TokenException" });
  const s = await dead;
  assert.equal(s.state.name, "Live", "the socket still streams");
  assert.ok(!calls.includes("close 1"));
  assert.equal(notices.length, 1);
  actor.send({ type: "SocketFailed", gen: 1, kind: "network", detail: "Socket closed (1006)" });
  assert.equal(actor.snapshot().state.name, "Expired");
  assert.equal(calls.filter((c) => c.startsWith("open")).length, 1, "no handshake on it");
  assert.equal(notices.length, 1);
  assert.equal(clock.pending, 1, "only the login reminder is left");
  await actor.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("an observer that throws neither breaks the transition nor silences the others", async () => {
  const { actor, lines } = harness();
  const seen: string[] = [];
  actor.subscribe(() => {
    throw new Error("boom");
  });
  const unsubscribe = actor.subscribe((s, previous) =>
    seen.push(`${previous.state.name}→${s.state.name}`)
  );
  actor.send(loaded(A));
  assert.equal(actor.snapshot().state.name, "Reconnecting");
  assert.deepEqual(seen, ["Disconnected→Reconnecting"]);
  assert.ok(lines.includes("error Failed to notify an observer: boom"));
  unsubscribe();
  actor.send({ type: "SocketOpened", gen: 1 });
  assert.equal(seen.length, 1);
  await actor.stop();
});

Deno.test("stop() closes the socket, clears every timer, waits for the close and drops later events", async () => {
  const closed = Promise.withResolvers<void>();
  const calls: string[] = [];
  const { actor, clock } = harness(() => ({
    socket: {
      open: (token, gen) => void calls.push(`open ${gen} ${name(token)}`),
      close(gen) {
        calls.push(`close ${gen}`);
        return closed.promise;
      },
      subscribe: (gen) => void calls.push(`subscribe ${gen}`),
      unsubscribe: () => {},
    },
  }));
  actor.send(loaded(A));
  let stopped = false;
  const stopping = actor.stop().then(() => stopped = true);
  assert.ok(calls.includes("close 1"));
  assert.equal(clock.pending, 0);
  // Let every queued microtask run: stop() must still be waiting for the close.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(stopped, false);
  closed.resolve();
  await stopping;
  assert.equal(stopped, true);
  assert.deepEqual(actor.snapshot().state, { name: "Disconnected", since: T0, reason: "stopped" });
  const before = calls.length;
  actor.send(loaded(B));
  actor.send({ type: "SocketOpened", gen: 1 });
  assert.equal(calls.length, before);
  await actor.stop(); // a second stop resolves too
});

Deno.test("events queued before Stop are still handled; those sent after it are dropped", async () => {
  const calls: string[] = [];
  let stopping: Promise<void> | undefined;
  const { actor } = harness((self) => ({
    socket: {
      open(_token, gen) {
        self().send({ type: "SocketOpened", gen });
        stopping = self().stop();
        self().send({ type: "DataReceived", gen });
      },
      close: (gen) => void calls.push(`close ${gen}`),
      subscribe: (gen) => void calls.push(`subscribe ${gen}`),
      unsubscribe: () => {},
    },
  }));
  const states: string[] = [];
  actor.subscribe((s) => states.push(s.state.name));
  actor.send(loaded(A));
  await stopping;
  assert.deepEqual(calls, ["subscribe 1", "close 1"]);
  assert.deepEqual(states, ["Reconnecting", "Reconnecting", "Disconnected"]);
});

Deno.test("a socket port that throws on open becomes a network failure, token redacted", async () => {
  const { actor, clock } = harness(() => ({
    socket: {
      open(token) {
        throw new TypeError(`Failed to connect to wss://ws.kite.trade?access_token=${token}`);
      },
      close: () => {},
      subscribe: () => {},
      unsubscribe: () => {},
    },
  }));
  actor.send(loaded(A));
  const s = actor.snapshot();
  assert.equal(s.state.name, "Reconnecting");
  assert.equal(s.shards[0]?.socket, null);
  assert.deepEqual(s.lastError, {
    kind: "network",
    detail: `Failed to connect to wss://ws.kite.trade?access_token=${A.fingerprint}`,
  });
  assert.equal(clock.pending, 2); // the retry and the expiry
  await actor.stop();
});

Deno.test("a probe that rejects is logged as an error result and changes nothing", async () => {
  const logged = Promise.withResolvers<string>();
  const { actor } = harness(() => ({
    probe: () => Promise.reject(new Error(`fetch failed for token ${A.token}`)),
    log(level, message) {
      if (message.startsWith("Probe of token")) logged.resolve(`${level} ${message}`);
    },
  }));
  actor.send(loaded(A));
  const before = actor.snapshot();
  assert.equal(
    await logged.promise,
    `warn Probe of token ${A.fingerprint} failed: fetch failed for token ${A.fingerprint}`,
  );
  // Only the probe's own flag moved: it is no longer in flight.
  assert.equal(before.probing, true);
  assert.deepEqual({ ...actor.snapshot(), probing: true }, before);
  await actor.stop();
});

Deno.test("a logger that throws does not stop the actor", async () => {
  const { actor } = harness((self) => ({
    log() {
      throw new Error("disk full");
    },
    socket: healthySocket(self),
  }));
  actor.send(loaded(A));
  assert.equal(actor.snapshot().state.name, "Live");
  await actor.stop();
});

Deno.test("with the system clock, stop() leaves no timer behind", async () => {
  const clock: Clock = systemClock();
  const probed = Promise.withResolvers<void>();
  const calls: string[] = [];
  const actor = createActor({
    ports: {
      socket: {
        open: (_token, gen) => void calls.push(`open ${gen}`),
        close: (gen) => void calls.push(`close ${gen}`),
        subscribe: () => {},
        unsubscribe: () => {},
      },
      probe() {
        probed.resolve();
        return Promise.resolve({ result: "ok", userId: "AB1234" });
      },
      clock,
      log: () => {},
      notify: () => {},
    },
  });
  actor.send(loaded(A));
  await probed.promise;
  // Watchdog and expiry timers are real here; the test's op sanitizer fails if one leaks.
  await actor.stop();
  assert.deepEqual(calls, ["open 1", "close 1"]);
});

Deno.test("each shard's retry and watchdog timers fire for that shard only", async () => {
  const { actor, clock, calls } = harness();
  actor.send({
    type: "PlanChanged",
    plan: [{ instruments: new Map([[256265, "full"]]) }, {
      instruments: new Map([[408065, "quote"]]),
    }],
  });
  actor.send(loaded(A));
  actor.send({ type: "SocketOpened", gen: 1 });
  actor.send({ type: "SocketOpened", gen: 2 });
  assert.deepEqual(calls.filter((c) => !c.startsWith("probe")), [
    "open 1 A",
    "subscribe 1 256265 full",
    "open 2 A",
    "subscribe 2 408065 quote",
  ]);
  // Shard 1 fails; shard 0 keeps getting data, so only shard 1's timers move anything.
  actor.send({ type: "SocketFailed", gen: 2, kind: "network", detail: "reset" });
  for (let ms = 0; ms < 4_000; ms += 500) {
    actor.send({ type: "DataReceived", gen: 1 });
    clock.tick(500);
  }
  assert.deepEqual(calls.filter((c) => c.startsWith("open")), ["open 1 A", "open 2 A", "open 3 A"]);
  assert.ok(!calls.includes("close 1"));
  // Shard 1's new socket never opens: its own watchdog calls the stall at 5 s.
  for (let ms = 0; ms < 5_000; ms += 500) {
    actor.send({ type: "DataReceived", gen: 1 });
    clock.tick(500);
  }
  assert.ok(calls.includes("close 3"));
  assert.ok(!calls.includes("close 1"), "shard 0 fed all along");
  assert.equal(actor.snapshot().shards[1]?.lastError?.kind, "stall");
  actor.send({ type: "PlanChanged", plan: [{ instruments: new Map() }] });
  assert.ok(calls.includes("unsubscribe 1 256265"));
  await actor.stop();
});
