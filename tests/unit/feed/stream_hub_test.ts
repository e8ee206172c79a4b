import assert from "node:assert/strict";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import type { Tick } from "../../../src/kite/packets.ts";
import { createStreamHub, type TickEvent } from "../../../src/feed/stream_hub.ts";
import type { StateSummary } from "../../../src/ops/state_summary.ts";
import { expired, handLifecycle, ltp, MemorySink } from "../../_support/hub_fixture.ts";

const T0 = 1_700_000_000_000;

function setup(options: { maxQueued?: number } = {}) {
  const clock = new FakeClock(T0);
  const lifecycle = handLifecycle(T0);
  const hub = createStreamHub({ lifecycle, summary: lifecycle.summary, clock, ...options });
  return { clock, lifecycle, hub };
}

Deno.test("publish() with no client connected reads no tick and starts no timer", () => {
  const { clock, hub } = setup();
  const untouchable = {
    get instrument_token(): number {
      throw new Error("publish() read a tick nobody listens to");
    },
  } as unknown as Tick;
  hub.publish([untouchable, untouchable], T0);
  assert.equal(clock.pending, 0);
  assert.deepEqual(hub.stats(), { clients: 0, dropped_total: 0 });
});

Deno.test("serve() sends the reconnect delay and the current state first", async () => {
  const { hub } = setup();
  const sink = new MemorySink();
  const served = hub.serve(sink);
  assert.match(sink.text, /^retry: 2000\n\nevent: state\ndata: \{.*\}\n\n$/);
  const [state] = sink.data("state") as StateSummary[];
  assert.equal(state?.state, "Disconnected");
  assert.equal(state?.since, new Date(T0).toISOString());
  assert.equal(state?.login_needed, false);
  await hub.close();
  await served;
});

Deno.test("ticks of one instrument within a flush reach every client as one event, the latest", async () => {
  const { clock, hub } = setup();
  const [a, b] = [new MemorySink(), new MemorySink()];
  const served = [hub.serve(a), hub.serve(b)];
  hub.publish([ltp(256265, 100), ltp(265, 7)], T0);
  hub.publish([ltp(256265, 101)], T0 + 10);
  hub.publish([ltp(256265, 102)], T0 + 20);
  assert.deepEqual(a.data("tick"), [], "nothing before the flush");

  clock.tick(100);
  await a.until((sink) => sink.data("tick").length > 0);
  await b.until((sink) => sink.text === a.text);
  const ticks = a.data("tick") as TickEvent[];
  assert.deepEqual(ticks.map((t) => [t.token, t.name, t.last_price]), [
    [256265, "NIFTY 50", 102],
    [265, "SENSEX", 7],
  ]);
  assert.equal(ticks[0]?.at, new Date(T0 + 20).toISOString());
  assert.equal(b.text, a.text, "every client gets the same frames");
  assert.equal(clock.pending, 1, "only the heartbeat waits once flushed");
  await hub.close();
  await Promise.all(served);
});

Deno.test("a state change goes out once, after the ticks received before it", async () => {
  const { clock, lifecycle, hub } = setup();
  const sink = new MemorySink();
  const served = hub.serve(sink);
  hub.publish([ltp(265, 7)], T0);
  lifecycle.move(expired(lifecycle.snapshot(), "token rejected", T0 + 5));
  // Data arriving changes the snapshot but nothing a page shows: no event.
  lifecycle.move({ ...lifecycle.snapshot(), lastDataAt: T0 + 6 });
  await sink.until((it) => it.data("state").length === 2);

  const blocks = sink.text.split("\n\n").filter((block) => block !== "");
  assert.deepEqual(blocks.map((block) => block.split("\n")[0]), [
    "retry: 2000",
    "event: state",
    "event: tick",
    "event: state",
  ]);
  const states = sink.data("state") as StateSummary[];
  assert.deepEqual(states.map((s) => [s.state, s.reason, s.login_needed]), [
    ["Disconnected", "no token yet", false],
    ["Expired", "token rejected", true],
  ]);
  clock.tick(100);
  hub.publish([ltp(256265, 8)], T0 + 200);
  clock.tick(100);
  await sink.until((it) => it.data("tick").length === 2);
  assert.deepEqual(
    (sink.data("tick") as TickEvent[]).map((t) => t.token),
    [265, 256265],
    "the flushed tick is not sent again",
  );
  await hub.close();
  await served;
});

Deno.test("a client whose writes stall is dropped once its queue fills; the others get all", async () => {
  const { clock, hub } = setup({ maxQueued: 10 });
  const [slow, fast] = [new MemorySink(), new MemorySink()];
  slow.hold();
  const slowServed = hub.serve(slow);
  const fastServed = hub.serve(fast);
  const batch = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) => ltp(first + i, 1));

  const fastTicks = (count: number) => fast.until((sink) => sink.data("tick").length === count);

  hub.publish(batch(1000, 5), T0);
  clock.tick(100);
  await fastTicks(5);
  hub.publish(batch(2000, 5), T0);
  clock.tick(100);
  await fastTicks(10);
  assert.deepEqual(hub.stats(), { clients: 2, dropped_total: 0 }, "10 waiting: at the limit");

  hub.publish(batch(3000, 1), T0);
  clock.tick(100);
  assert.deepEqual(hub.stats(), { clients: 1, dropped_total: 1 });
  assert.equal(slow.aborted, true);
  assert.equal(slow.writes, 1, "the stalled client got only its first write");
  await slowServed;

  hub.publish(batch(4000, 3), T0);
  clock.tick(100);
  await fastTicks(14);
  assert.equal(fast.aborted, false);
  await hub.close();
  await fastServed;
});

Deno.test("a heartbeat comment goes out every 15 s while a client is connected; no timer after", async () => {
  const { clock, hub } = setup();
  const sink = new MemorySink();
  const served = hub.serve(sink);
  const beats = (it: MemorySink) => it.text.match(/^: keepalive$/gm)?.length ?? 0;
  await sink.until((it) => it.data("state").length === 1);
  clock.tick(14_999);
  assert.equal(beats(sink), 0);
  clock.tick(1);
  await sink.until((it) => beats(it) === 1);
  clock.tick(15_000);
  await sink.until((it) => beats(it) === 2);

  sink.abort(); // The peer leaves.
  await served;
  assert.equal(hub.stats().clients, 0);
  assert.equal(clock.pending, 0);
  await hub.close();
});

Deno.test("close() ends every stream, and a client arriving later is ended at once", async () => {
  const { clock, lifecycle, hub } = setup();
  const [a, b] = [new MemorySink(), new MemorySink()];
  const served = [hub.serve(a), hub.serve(b)];
  hub.publish([ltp(265, 7)], T0);
  await hub.close();
  await Promise.all(served);
  assert.equal(a.aborted && b.aborted, true);
  assert.equal(clock.pending, 0);

  lifecycle.move(expired(lifecycle.snapshot(), "token rejected", T0 + 5));
  const late = new MemorySink();
  await hub.serve(late);
  assert.equal(late.text, "");
  assert.equal(a.data("state").length, 1, "no state after close");
});

Deno.test("ticks after a quiet spell go out on the next turn; ticks within 100 ms of a flush wait out the rest", async () => {
  const { clock, hub } = setup();
  const sink = new MemorySink();
  const served = hub.serve(sink);
  hub.publish([ltp(265, 1)], T0);
  assert.deepEqual(sink.data("tick"), [], "not inside publish()");
  clock.tick(0);
  await sink.until((it) => it.data("tick").length === 1);

  clock.tick(30);
  hub.publish([ltp(265, 2)], T0 + 30);
  clock.tick(69);
  assert.equal(sink.data("tick").length, 1, "a flush 30 ms ago: the tick waits");
  hub.publish([ltp(265, 3)], T0 + 99);
  clock.tick(1);
  await sink.until((it) => it.data("tick").length === 2);
  assert.deepEqual(
    (sink.data("tick") as TickEvent[]).map((t) => t.last_price),
    [1, 3],
    "coalesced",
  );

  clock.tick(500);
  hub.publish([ltp(265, 4)], T0 + 600);
  clock.tick(0);
  await sink.until((it) => it.data("tick").length === 3);
  await hub.close();
  await served;
});

Deno.test("a flush of more instruments than maxQueued reaches a client with nothing waiting", async () => {
  const { clock, hub } = setup({ maxQueued: 10 });
  const sink = new MemorySink();
  const served = hub.serve(sink);
  hub.publish(Array.from({ length: 50 }, (_, i) => ltp(1000 + i, 1)), T0);
  clock.tick(0);
  await sink.until((it) => it.data("tick").length === 50);
  assert.deepEqual(hub.stats(), { clients: 1, dropped_total: 0 });
  await hub.close();
  await served;
});
