import assert from "node:assert/strict";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import {
  classifyHandshakeError,
  createTickerPort,
  SUBSCRIBE_BATCH,
  type TickerFailure,
  type TickerHandlers,
  type TickerPort,
} from "../../../src/kite/ticker.ts";
import { decode, type Decoded, type Mode, type TextMessage } from "../../../src/kite/packets.ts";
import { type Simulator, startSimulator } from "../../../src/simulator/simulator.ts";
import { control, CREDENTIALS, simOptions } from "../../_support/sim_fixture.ts";

const NIFTY = 256265;
const INFY = 408065;
const RELIANCE = 738561;
/** Matches the default token pattern, so only the simulator can tell it is dead. */
const DEAD_TOKEN = "DeadTokenDeadTokenDeadTokenDead0";
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** A guard so a broken adapter fails the test instead of hanging it. */
const GIVE_UP_MS = 10_000;

type Call =
  | { readonly kind: "opened"; readonly gen: number }
  | {
    readonly kind: "binary";
    readonly gen: number;
    readonly decoded: Decoded;
    readonly raw: Uint8Array;
  }
  | { readonly kind: "text"; readonly gen: number; readonly message: TextMessage }
  | { readonly kind: "failed"; readonly gen: number; readonly failure: TickerFailure };

type Failed = Extract<Call, { kind: "failed" }>;
type Binary = Extract<Call, { kind: "binary" }>;

interface Waiter {
  readonly from: number;
  readonly match: (call: Call) => boolean;
  readonly resolve: (call: Call) => void;
}

/** Handlers that record every call and let a test await one that matches. */
class Recorder implements TickerHandlers {
  readonly calls: Call[] = [];
  #waiters = new Set<Waiter>();

  opened(gen: number): void {
    this.#push({ kind: "opened", gen });
  }
  binary(gen: number, decoded: Decoded, raw: Uint8Array): void {
    this.#push({ kind: "binary", gen, decoded, raw });
  }
  text(gen: number, message: TextMessage): void {
    this.#push({ kind: "text", gen, message });
  }
  failed(gen: number, failure: TickerFailure): void {
    this.#push({ kind: "failed", gen, failure });
  }

  #push(call: Call): void {
    this.calls.push(call);
    const index = this.calls.length - 1;
    for (const waiter of this.#waiters) {
      if (index >= waiter.from && waiter.match(call)) {
        this.#waiters.delete(waiter);
        waiter.resolve(call);
      }
    }
  }

  /** The first call at index ≥ `from` that `match` accepts, recorded already or to come. */
  when<C extends Call>(match: (call: Call) => call is C, from?: number): Promise<C>;
  when(match: (call: Call) => boolean, from?: number): Promise<Call>;
  when(match: (call: Call) => boolean, from = 0): Promise<Call> {
    const found = this.calls.slice(from).find(match);
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve, reject } = Promise.withResolvers<Call>();
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(new Error(`Failed to see the expected handler call within ${GIVE_UP_MS} ms`));
    }, GIVE_UP_MS);
    const waiter: Waiter = {
      from,
      match,
      resolve: (call) => {
        clearTimeout(timer);
        resolve(call);
      },
    };
    this.#waiters.add(waiter);
    return promise;
  }

  /** The calls about generation `gen`. */
  of(gen: number): Call[] {
    return this.calls.filter((call) => call.gen === gen);
  }
}

function isOpened(gen: number) {
  return (call: Call): call is Call => call.kind === "opened" && call.gen === gen;
}

function isFailed(gen: number) {
  return (call: Call): call is Failed => call.kind === "failed" && call.gen === gen;
}

function isHeartbeat(gen: number) {
  return (call: Call): call is Binary =>
    call.kind === "binary" && call.gen === gen && call.decoded.kind === "heartbeat";
}

function isTicksWith(gen: number, token: number, mode?: Mode) {
  return (call: Call): call is Binary =>
    call.kind === "binary" && call.gen === gen && call.decoded.kind === "ticks" &&
    call.decoded.ticks.some((tick) =>
      tick.instrument_token === token && (mode === undefined || tick.mode === mode)
    );
}

/** Asserts no failure detail recorded so far carries any of `tokens`. */
function assertNoTokenIn(recorder: Recorder, tokens: readonly string[]): void {
  for (const call of recorder.calls) {
    if (call.kind !== "failed") continue;
    for (const token of tokens) {
      assert.ok(!call.failure.detail.includes(token), `token in "${call.failure.detail}"`);
    }
  }
}

interface Rig {
  readonly sim: Simulator;
  readonly port: TickerPort;
  readonly recorder: Recorder;
  readonly clock: FakeClock;
}

/** A simulator and a ticker port on it with a fake handshake clock, all closed afterwards. */
async function withRig(fn: (rig: Rig) => Promise<void>): Promise<void> {
  const sim = await startSimulator(simOptions());
  const recorder = new Recorder();
  const clock = new FakeClock();
  const port = createTickerPort(sim.tickerUrl, {
    apiKey: CREDENTIALS.apiKey,
    handlers: recorder,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    timers: clock,
  });
  try {
    await fn({ sim, port, recorder, clock });
  } finally {
    await port.closeAll();
    await sim.close();
  }
}

/** Opens generation `gen` with a fresh live token and waits for `opened`. */
async function openLive(rig: Rig, gen: number): Promise<string> {
  const token = rig.sim.issueAccessToken();
  rig.port.open(token, gen);
  const first = await rig.recorder.when((call) => call.gen === gen);
  assert.deepEqual(first, { kind: "opened", gen });
  return token;
}

Deno.test("classifyHandshakeError() maps 401 and 403 to auth, anything else to network", () => {
  const prefix = "NetworkError: failed to connect to WebSocket: Invalid status code:";
  assert.equal(classifyHandshakeError(`${prefix} 403`), "auth");
  assert.equal(classifyHandshakeError(`${prefix} 401`), "auth");
  assert.equal(classifyHandshakeError(`${prefix} 429`), "network");
  assert.equal(classifyHandshakeError(`${prefix} 503`), "network");
  assert.equal(
    classifyHandshakeError("failed to connect to WebSocket: tcp connect error"),
    "network",
  );
  assert.equal(classifyHandshakeError("Handshake failed (0)"), "network");
});

Deno.test("open() with a live token reports opened, then decoded ticks and heartbeats", async () => {
  await withRig(async (rig) => {
    const token = await openLive(rig, 1);
    assert.equal(rig.clock.pending, 0, "the handshake timer is cleared once open");
    rig.port.subscribe(1, [NIFTY, INFY], "full");
    const first = await rig.recorder.when(isTicksWith(1, INFY));
    assert.ok(first.decoded.kind === "ticks");
    assert.equal(first.decoded.errors, 0);
    await rig.recorder.when(isTicksWith(1, NIFTY));
    await rig.recorder.when(isHeartbeat(1));
    // Subscribe sends a cached quote tick; the mode request then sends a full one.
    const infy = (await rig.recorder.when(isTicksWith(1, INFY, "full"))).decoded;
    assert.ok(infy.kind === "ticks");
    const tick = infy.ticks.find((t) => t.instrument_token === INFY);
    assert.equal(tick?.kind, "quote");
    assert.equal(tick.mode, "full");
    assert.equal(tick.depth.buy.length, 5);
    for (const call of rig.recorder.calls) {
      if (call.kind !== "binary" || call.decoded.kind !== "ticks") continue;
      for (const tick of call.decoded.ticks) {
        assert.ok([NIFTY, INFY].includes(tick.instrument_token), `${tick.instrument_token}`);
      }
    }
    assert.deepEqual(rig.sim.stats().subscriptions, { [NIFTY]: "full", [INFY]: "full" });
    assert.equal(rig.recorder.of(1).filter((call) => call.kind === "opened").length, 1);
    assert.equal(rig.recorder.calls.filter((call) => call.kind === "failed").length, 0);
    assertNoTokenIn(rig.recorder, [token]);
  });
});

Deno.test("subscribe() before the socket opens sends nothing and does not throw", async () => {
  await withRig(async (rig) => {
    rig.port.open(rig.sim.issueAccessToken(), 1);
    rig.port.subscribe(1, [RELIANCE], "ltp");
    rig.port.subscribe(2, [RELIANCE], "ltp");
    await rig.recorder.when(isOpened(1));
    rig.port.subscribe(1, [INFY], "ltp");
    // One socket delivers in order: had RELIANCE been sent, it would be subscribed by now.
    await rig.recorder.when(isTicksWith(1, INFY));
    assert.deepEqual(rig.sim.stats().subscriptions, { [INFY]: "ltp" });
  });
});

Deno.test("open() with a dead token reports one auth failure and never opened", async () => {
  await withRig(async (rig) => {
    rig.port.open(DEAD_TOKEN, 7);
    const failed = await rig.recorder.when(isFailed(7));
    assert.equal(failed.failure.kind, "auth");
    assert.match(failed.failure.detail, /403/);
    // failed() comes from the close event, the socket's last: closeAll() has nothing to wait.
    await rig.port.closeAll();
    assert.deepEqual(rig.recorder.calls, [failed]);
    assert.equal(rig.clock.pending, 0, "the handshake timer is cleared on failure");
    assert.deepEqual(rig.sim.stats().handshakes, { accepted: 0, rejected: 1 });
    assertNoTokenIn(rig.recorder, [DEAD_TOKEN]);
  });
});

Deno.test("a refused upgrade (503) is a network failure; after the refusal ends, open() works", async () => {
  await withRig(async (rig) => {
    await control(rig.sim, "refuse?ms=60000");
    const token = rig.sim.issueAccessToken();
    rig.port.open(token, 1);
    const failed = await rig.recorder.when(isFailed(1));
    assert.equal(failed.failure.kind, "network");
    assert.match(failed.failure.detail, /503/);
    assert.equal(rig.recorder.of(1).length, 1);
    await control(rig.sim, "refuse?ms=0");
    rig.port.open(token, 2);
    await rig.recorder.when(isOpened(2));
    assertNoTokenIn(rig.recorder, [token]);
  });
});

Deno.test("a socket the simulator drops (close 4000) is a network failure naming the code", async () => {
  await withRig(async (rig) => {
    const token = await openLive(rig, 3);
    await rig.recorder.when(isHeartbeat(3));
    const mark = rig.recorder.calls.length;
    assert.deepEqual(await control(rig.sim, "drop"), { dropped: 1 });
    const failed = await rig.recorder.when(isFailed(3), mark);
    assert.equal(failed.failure.kind, "network");
    assert.match(failed.failure.detail, /^Socket closed \(4000\)/);
    await rig.port.closeAll();
    assert.equal(rig.recorder.calls.filter((call) => call.kind === "failed").length, 1);
    assertNoTokenIn(rig.recorder, [token]);
  });
});

Deno.test("a text error from the ticker reaches text() parsed", async () => {
  await withRig(async (rig) => {
    await openLive(rig, 1);
    assert.deepEqual(await control(rig.sim, "text-error"), { sent: 1 });
    const call = await rig.recorder.when((c) => c.kind === "text" && c.gen === 1);
    assert.deepEqual(call, {
      kind: "text",
      gen: 1,
      message: { type: "error", data: "Simulated error from the ticker" },
    });
  });
});

Deno.test("a malformed binary message reaches binary() with its errors counted", async () => {
  await withRig(async (rig) => {
    await openLive(rig, 1);
    const mark = rig.recorder.calls.length;
    assert.deepEqual(await control(rig.sim, "garbage"), { sent: 1 });
    const call = await rig.recorder.when(
      (c): c is Binary => c.kind === "binary" && c.decoded.kind === "ticks" && c.decoded.errors > 0,
      mark,
    );
    assert.equal(call.gen, 1);
    // Garbage is reported, not fatal: the socket stays up.
    await rig.recorder.when(isHeartbeat(1), rig.recorder.calls.indexOf(call) + 1);
    assert.equal(rig.recorder.calls.filter((c) => c.kind === "failed").length, 0);
  });
});

Deno.test("close(gen) silences that generation while another keeps reporting", async () => {
  await withRig(async (rig) => {
    await openLive(rig, 1);
    await openLive(rig, 2);
    rig.port.subscribe(1, [NIFTY], "ltp");
    rig.port.subscribe(2, [NIFTY], "ltp");
    await rig.recorder.when(isTicksWith(1, NIFTY));
    await rig.recorder.when(isTicksWith(2, NIFTY));
    const mark = rig.recorder.calls.length;
    rig.port.close(1);
    // Sent while gen 1's close handshake is in flight: it may still reach that socket.
    await control(rig.sim, "text-error");
    await control(rig.sim, "garbage");
    let from = mark;
    for (let beat = 0; beat < 3; beat++) {
      const call = await rig.recorder.when(isHeartbeat(2), from);
      from = rig.recorder.calls.indexOf(call) + 1;
    }
    await rig.recorder.when((call) => call.kind === "text" && call.gen === 2, mark);
    await rig.port.closeAll();
    const after = rig.recorder.calls.slice(mark);
    assert.deepEqual(after.filter((call) => call.gen === 1), []);
    assert.deepEqual(rig.recorder.calls.filter((call) => call.kind === "failed"), []);
    const count = rig.recorder.calls.length;
    rig.port.close(2);
    rig.port.subscribe(2, [INFY], "ltp");
    await rig.port.closeAll();
    assert.equal(rig.recorder.calls.length, count, "nothing reports after closeAll()");
  });
});

Deno.test("close(gen) during the handshake reports nothing for it", async () => {
  await withRig(async (rig) => {
    rig.port.open(rig.sim.issueAccessToken(), 1);
    rig.port.close(1);
    assert.equal(rig.clock.pending, 0, "close() clears the handshake timer");
    await rig.port.closeAll();
    await openLive(rig, 2);
    assert.deepEqual(rig.recorder.of(1), []);
  });
});

Deno.test("a connection refused at the TCP level is a network failure", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = listener.addr.port;
  listener.close();
  const recorder = new Recorder();
  const clock = new FakeClock();
  const port = createTickerPort(`ws://127.0.0.1:${deadPort}/ws`, {
    apiKey: CREDENTIALS.apiKey,
    handlers: recorder,
    timers: clock,
  });
  const token = "LiveTokenLiveTokenLiveTokenLive1";
  port.open(token, 4);
  const failed = await recorder.when(isFailed(4));
  await port.closeAll();
  assert.equal(failed.failure.kind, "network");
  assert.deepEqual(recorder.calls, [failed]);
  assert.equal(clock.pending, 0);
  assertNoTokenIn(recorder, [token]);
});

Deno.test("a handshake that never completes times out as a network failure and is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorder = new Recorder();
  const clock = new FakeClock();
  const port = createTickerPort(`ws://127.0.0.1:${listener.addr.port}/ws`, {
    apiKey: CREDENTIALS.apiKey,
    handlers: recorder,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    timers: clock,
  });
  const token = "SlowTokenSlowTokenSlowTokenSlow1";
  try {
    port.open(token, 9);
    const conn = await listener.accept();
    // Read the upgrade request: it is on the wire, and the server never answers it.
    const request = await readUntil(conn, "\r\n\r\n");
    assert.match(request, /^GET \/ws\?/);
    assert.equal(clock.pending, 1);
    clock.tick(HANDSHAKE_TIMEOUT_MS - 1);
    assert.deepEqual(recorder.calls, []);
    clock.tick(1);
    assert.deepEqual(recorder.calls, [{
      kind: "failed",
      gen: 9,
      failure: { kind: "network", detail: `Handshake timed out after ${HANDSHAKE_TIMEOUT_MS} ms` },
    }]);
    assert.equal(clock.pending, 0);
    // The client gives up the TCP connection: the server side reads end of file.
    assert.equal(await readToEnd(conn), "");
    conn.close();
    await port.closeAll();
    assert.equal(recorder.calls.length, 1, "the cancelled handshake reports nothing more");
    assertNoTokenIn(recorder, [token]);
  } finally {
    await port.closeAll();
    listener.close();
  }
});

/** Reads from `conn` until the text read so far contains `end`. */
async function readUntil(conn: Deno.Conn, end: string): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes(end)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Failed to read "${end}": end of file after ${text}`);
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text;
}

/**
 * Reads from `conn` until end of file (or a reset) and returns what came; fails when the
 * peer keeps it open past the give-up guard (closing `conn` then, so nothing hangs).
 */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    conn.close();
  }, GIVE_UP_MS);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (error: unknown) {
    if (gaveUp) throw new Error(`Failed to see the peer close within ${GIVE_UP_MS} ms`);
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  } finally {
    clearTimeout(timer);
  }
  if (gaveUp) throw new Error(`Failed to see the peer close within ${GIVE_UP_MS} ms`);
  return text;
}

Deno.test("binary() hands over each message's own bytes beside the decoded value", async () => {
  await withRig(async (rig) => {
    await openLive(rig, 1);
    rig.port.subscribe(1, [NIFTY, INFY], "full");
    const ticks = await rig.recorder.when(isTicksWith(1, INFY, "full"));
    const heartbeat = await rig.recorder.when(isHeartbeat(1));
    assert.equal(heartbeat.raw.byteLength, 1);
    // The bytes decode to what the handler was given: nothing re-encoded, nothing shared.
    assert.deepEqual(decode(ticks.raw.slice().buffer), ticks.decoded);
    assert.notEqual(ticks.raw.buffer, heartbeat.raw.buffer);
  });
});

Deno.test("subscribe() and unsubscribe() send at most SUBSCRIBE_BATCH tokens a message", async () => {
  // A bare WebSocket server that records what it is sent: the batching is the adapter's own.
  const messages: unknown[] = [];
  const received = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => {
      messages.push(JSON.parse(String(event.data)));
      if (messages.length === 8) received.resolve();
    };
    return response;
  });
  const recorder = new Recorder();
  const port = createTickerPort(`ws://127.0.0.1:${server.addr.port}/ws`, {
    apiKey: CREDENTIALS.apiKey,
    handlers: recorder,
    timers: new FakeClock(),
  });
  try {
    port.open("a".repeat(32), 1);
    await recorder.when(isOpened(1));
    const tokens = Array.from({ length: 2500 }, (_, i) => i + 1);
    port.subscribe(1, tokens, "quote");
    port.unsubscribe(1, tokens.slice(0, 1200));
    await received.promise;
    assert.equal(SUBSCRIBE_BATCH, 1000);
    const shapes = messages.map((m) => {
      const { a, v } = m as { a: string; v: unknown[] };
      const list = (a === "mode" ? v[1] : v) as number[];
      return `${a}${a === "mode" ? `:${v[0]}` : ""} ${list[0]}..${list.at(-1)} (${list.length})`;
    });
    assert.deepEqual(shapes, [
      "subscribe 1..1000 (1000)",
      "mode:quote 1..1000 (1000)",
      "subscribe 1001..2000 (1000)",
      "mode:quote 1001..2000 (1000)",
      "subscribe 2001..2500 (500)",
      "mode:quote 2001..2500 (500)",
      "unsubscribe 1..1000 (1000)",
      "unsubscribe 1001..1200 (200)",
    ]);
  } finally {
    await port.closeAll();
    await server.shutdown();
  }
});
