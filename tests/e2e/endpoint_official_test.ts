/**
 * The endpoint as local programs meet it: the official npm KiteTicker (kiteconnect@5.3.0,
 * unmodified, one process each) pointed at kitekeeper's `/ws`, kitekeeper connected to the
 * simulator.
 */
import assert from "node:assert/strict";
import type { Mode } from "../../src/kite/packets.ts";
import {
  envText,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { type OfficialEvent, startOfficialClient } from "../_support/official_clients.ts";

const CLIENT_TOKEN = "strategy-box-0123456789abcdef";
const NIFTY = 256265; // an index
const INFY = 408065;
const RELIANCE = 738561;
const TOKENS = [NIFTY, INFY, RELIANCE];
const TROUBLE = new Set(["close", "disconnect", "reconnect", "noreconnect", "error"]);

type OfficialTick = Record<string, unknown> & { instrument_token: number; mode: string };

function ticksOf(events: readonly OfficialEvent[]): OfficialTick[] {
  return events.flatMap((e) => (e.event === "ticks" ? e.ticks ?? [] : []) as OfficialTick[]);
}

/** Has every one of `tokens` arrived in `mode`, `count` times or more? */
function hasTicks(events: readonly OfficialEvent[], mode: Mode, count: number): boolean {
  const ticks = ticksOf(events);
  return TOKENS.every((token) =>
    ticks.filter((t) => t.instrument_token === token && t.mode === mode).length >= count
  );
}

async function startWithClients() {
  let kiteToken = "";
  const harness = await startHarness({
    env: (sim) =>
      envText(sim.url, [
        `KITE_ACCESS_TOKEN=${kiteToken = sim.issueAccessToken()}`,
        `KITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}`,
      ]),
  });
  await waitFor(harness.daemon, "Live", (s) => s.state.name === "Live");
  const root = `${harness.daemon.url.replace("http", "ws")}/ws`;
  return { harness, root, kiteToken };
}

Deno.test("official clients through /ws decode, in each mode, the values a direct one gets", async () => {
  const { harness, root, kiteToken } = await startWithClients();
  await using _harness = harness;
  await using direct = startOfficialClient(harness.sim.tickerUrl, {
    apiKey: KITE.apiKey,
    accessToken: kiteToken,
    mode: "full",
    tokens: TOKENS,
  });
  await direct.until(() => hasTicks(direct.events, "full", 1));
  const modes: Mode[] = ["full", "quote", "ltp"];
  const clients = modes.map((mode) =>
    startOfficialClient(root, {
      apiKey: KITE.apiKey,
      accessToken: CLIENT_TOKEN,
      mode,
      tokens: TOKENS,
    })
  );
  try {
    await Promise.all(clients.map((c, i) => c.until(() => hasTicks(c.events, modes[i]!, 3))));
    // Every tick the clients hold has reached the direct client too once it has a later one.
    const latest = Math.max(
      ...clients.map((c) => c.events.findLast((e) => e.event === "ticks")?.at ?? 0),
    );
    await direct.until((e) => e.event === "ticks" && (e.at ?? 0) > latest + 100);
    const seen = ticksOf(direct.events);
    clients.forEach((client, i) => {
      const mode = modes[i]!;
      const ticks = ticksOf(client.events);
      // Kite's subscribe means quote mode until the client's `mode` request lands.
      assert.ok(ticks.every((t) => t.mode === mode || t.mode === "quote"), `${mode} ticks`);
      for (const token of TOKENS) {
        assert.equal(ticks.findLast((t) => t.instrument_token === token)?.mode, mode);
      }
      for (const tick of ticks) {
        // The direct client got the same step of the market in full mode: a lower mode's
        // fields are the same fields of it, value for value.
        const matches = seen.filter((full) =>
          full.instrument_token === tick.instrument_token &&
          Object.keys(tick).every((key) =>
            key === "mode" ||
            JSON.stringify(full[key]) === JSON.stringify(tick[key])
          )
        );
        // The direct client's own first tick can be a quote too (its subscribe lands before its
        // mode request), so a step may have reached it in quote mode only; a full tick of the
        // client can only match a full one, since every depth field must agree.
        const same = matches.find((full) => full.mode === "full") ?? matches[0];
        assert.ok(same !== undefined, `${mode} tick ${JSON.stringify(tick)} matches a direct one`);
        if (mode === "full") assert.equal(same.mode, "full");
      }
      assert.deepEqual(client.events.filter((e) => TROUBLE.has(e.event)), []);
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("a token rotation passes under official clients: no close, reconnect or error, ticks resume", async () => {
  const { harness, root } = await startWithClients();
  await using _harness = harness;
  const { daemon, sim } = harness;
  await using full = startOfficialClient(root, {
    apiKey: KITE.apiKey,
    accessToken: CLIENT_TOKEN,
    tokens: TOKENS,
  });
  await using ltp = startOfficialClient(root, {
    apiKey: KITE.apiKey,
    accessToken: CLIENT_TOKEN,
    mode: "ltp",
    tokens: TOKENS,
  });
  await full.until(() => hasTicks(full.events, "full", 1));
  await ltp.until(() => hasTicks(ltp.events, "ltp", 1));

  await simControl(sim, "expire");
  await simControl(sim, "drop");
  await waitFor(daemon, "Expired", (s) => s.state.name === "Expired");
  // Longer than the official client's 5 s read timeout: only heartbeats keep it connected.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const before = [full.events.length, ltp.events.length];
  const text = await Deno.readTextFile(harness.envFile);
  const fresh = sim.issueAccessToken();
  await Deno.writeTextFile(
    harness.envFile,
    text.replace(/KITE_ACCESS_TOKEN=\w+/, `KITE_ACCESS_TOKEN=${fresh}`),
  );
  const live = await waitFor(
    daemon,
    "Live on the new token",
    (s) => s.state.name === "Live" && s.token?.token === fresh,
  );
  const liveAt = live.state.since;
  await full.until((e) => e.event === "ticks" && (e.at ?? 0) > liveAt, before[0]);
  await ltp.until((e) => e.event === "ticks" && (e.at ?? 0) > liveAt, before[1]);
  for (const client of [full, ltp]) {
    assert.deepEqual(client.events.filter((e) => TROUBLE.has(e.event)), []);
    assert.equal(client.events.filter((e) => e.event === "connect").length, 1);
  }
});

Deno.test("an official client with a wrong credential gets 403", async () => {
  const { harness, root } = await startWithClients();
  await using _harness = harness;
  await using client = startOfficialClient(root, {
    apiKey: KITE.apiKey,
    accessToken: "not-a-credential-0123456789",
    tokens: TOKENS,
    reconnect: false,
  });
  const error = await client.until((e) => e.event === "error");
  assert.match(error.message ?? "", /403/);
  assert.equal(client.events.some((e) => e.event === "connect"), false);
  assert.ok(harness.lines.every((line) => !line.includes("not-a-credential")));
});
