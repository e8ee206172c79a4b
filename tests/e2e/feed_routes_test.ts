import assert from "node:assert/strict";
import { systemClock } from "../../src/clock.ts";
import { feedRoutes, type QuotesBody } from "../../src/http/feed_routes.ts";
import { DEFAULT_INSTRUMENTS } from "../../src/kite/instruments.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { createStreamHub, type TickEvent } from "../../src/feed/stream_hub.ts";
import type { StateSummary } from "../../src/ops/state_summary.ts";
import { type Harness, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { hasTicksFor } from "../_support/daemon_fixture.ts";
import { handLifecycle, ltp } from "../_support/hub_fixture.ts";
import { connectSse, type SseEvent } from "../_support/sse_client.ts";

/** Rejects naming `what` if `promise` has not settled within `ms`: a hang fails, not stalls. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function login(h: Harness): Promise<void> {
  const token = h.sim.issueAccessToken();
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
}

function state(event: SseEvent): StateSummary {
  return JSON.parse(event.data);
}

Deno.test("GET /quotes returns the state and the last tick of each instrument", async () => {
  await using h = await startHarness();
  const { daemon } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const before = await fetch(`${daemon.url}/quotes`);
  assert.equal(before.status, 200);
  assert.match(before.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(before.headers.get("cache-control"), "no-store");
  assert.deepEqual(await before.json(), {
    state: "Expired",
    mode: "full",
    last_data_at: null,
    instruments: {},
  });

  await login(h);
  await waitFor(
    daemon,
    "ticks for the three indices",
    (s) => s.state.name === "Live" && hasTicksFor(daemon, DEFAULT_INSTRUMENTS),
  );
  const quotes: QuotesBody = await (await fetch(`${daemon.url}/quotes`)).json();
  assert.equal(quotes.state, "Live");
  assert.deepEqual(Object.keys(quotes.instruments).sort(), ["256265", "260105", "265"]);
  assert.deepEqual(
    DEFAULT_INSTRUMENTS.map((token) => quotes.instruments[token]?.name),
    ["NIFTY 50", "NIFTY BANK", "SENSEX"],
  );
  for (const quote of Object.values(quotes.instruments)) {
    assert.ok(quote.last_price > 0, `${quote.name} has a price`);
    assert.ok(Date.parse(quote.at) <= Date.parse(quotes.last_data_at ?? ""), quote.name);
  }
});

Deno.test("GET /stream sends the state on connect, then the way to Live and ticks", async () => {
  await using h = await startHarness();
  const { daemon } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  await using client = await connectSse(`${daemon.url}/stream`);
  assert.equal(client.response.headers.get("content-type"), "text/event-stream");
  const first = await client.next();
  assert.equal(first?.event, "state");
  assert.deepEqual(
    first && state(first),
    {
      state: "Expired",
      since: daemon.status().since,
      reason: "no token",
      login_needed: true,
      login_url: `${daemon.url}/api/auth/login`,
      expected_expiry: null,
      user_id: null,
    },
  );

  await login(h);
  const live = await client.waitFor(
    "Live",
    (e) => e.event === "state" && state(e).state === "Live",
  );
  assert.equal(state(live).login_needed, false);
  assert.equal(state(live).login_url, null);
  assert.ok(state(live).expected_expiry, "a token has an expected expiry");
  const seen = new Set<number>();
  await client.waitFor("a tick of each index", (e) => {
    if (e.event === "tick") seen.add((JSON.parse(e.data) as TickEvent).token);
    return DEFAULT_INSTRUMENTS.every((token) => seen.has(token));
  });
  const tick: TickEvent = JSON.parse(client.events.find((e) => e.event === "tick")?.data ?? "");
  assert.deepEqual(Object.keys(tick).sort(), [
    "at",
    "change",
    "change_percent",
    "last_price",
    "name",
    "token",
  ]);
  const states = client.events.filter((e) => e.event === "state").map((e) => state(e).state);
  assert.deepEqual([states[0], states.at(-1)], ["Expired", "Live"]);
  assert.ok(states.includes("Reconnecting"), states.join(" → "));
});

Deno.test("closing the daemon ends every stream", async () => {
  await using h = await startHarness();
  const url = `${h.daemon.url}/stream`;
  await using a = await connectSse(url);
  await using b = await connectSse(url);
  assert.equal((await a.next())?.event, "state");
  assert.equal((await b.next())?.event, "state");

  await within(5000, "the daemon's close", h.daemon.close());
  assert.equal(await within(5000, "stream a's end", a.next().then(() => a.drain())) > 0, true);
  assert.equal(await within(5000, "stream b's end", b.next().then(() => b.drain())) > 0, true);
  assert.equal(await a.next(), null);
  assert.equal(await b.next(), null);
});

Deno.test("a client that never reads is dropped once its queue fills; a reading one keeps up", async () => {
  const lifecycle = handLifecycle();
  const hub = createStreamHub({
    lifecycle,
    summary: lifecycle.summary,
    clock: systemClock(),
    flushMs: 0,
    maxQueued: 400,
  });
  const routes = feedRoutes({
    status(): StatusBody {
      throw new Error("/quotes is not under test here");
    },
    streams: hub,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, routes.fetch);
  const url = `http://127.0.0.1:${server.addr.port}/stream`;
  const fast = await connectSse(url);
  const slow = await fetch(url); // Never read until the end: its socket buffers fill.
  assert.deepEqual(hub.stats(), { clients: 2, dropped_total: 0 });

  // Each round: 200 instruments (no coalescing), and the fast client reads all of them
  // before the next round, so it never has more than one round waiting.
  const batch = 200;
  let fastTicks = 0;
  async function round(n: number): Promise<void> {
    hub.publish(Array.from({ length: batch }, (_, i) => ltp(i + 1, n)), Date.now());
    const target = fastTicks + batch;
    while (fastTicks < target) {
      const event = await fast.next();
      assert.ok(event, "the fast client's stream is still open");
      if (event.event === "tick") fastTicks += 1;
    }
  }
  let rounds = 0;
  while (hub.stats().dropped_total === 0) {
    rounds += 1;
    assert.ok(rounds <= 5000, "the slow client was never dropped");
    await round(rounds);
  }
  assert.deepEqual(hub.stats(), { clients: 1, dropped_total: 1 });
  await round(rounds + 1); // Still served after the drop.

  // What reached the slow client's socket before the drop, then the end of its stream.
  const slowText = await within(10_000, "the slow stream's end", slow.text());
  const slowTicks = slowText.match(/^event: tick$/gm)?.length ?? 0;
  assert.ok(slowTicks > 0, "the slow client got something before it stalled");
  assert.ok(slowTicks < fastTicks, `slow ${slowTicks} < fast ${fastTicks}`);
  assert.ok(rounds > 1, `dropped after ${rounds} rounds, not at once`);

  await fast.close();
  await hub.close();
  await server.shutdown();
});
