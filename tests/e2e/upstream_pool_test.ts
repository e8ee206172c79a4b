import assert from "node:assert/strict";
import type { Mode } from "../../src/kite/packets.ts";
import type { ShardPlan, Snapshot } from "../../src/lifecycle/machine.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { envText, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

const NIFTY = 256265;
const BANKNIFTY = 260105;
const INFY = 408065;
const RELIANCE = 738561;

function plan(entries: readonly [number, Mode][]): ShardPlan {
  return { instruments: new Map(entries) };
}

/** The simulator's view: each open socket's subscriptions, sorted for comparison. */
function socketsSeen(stats: { sockets: readonly { subscriptions: Record<string, Mode> }[] }) {
  return stats.sockets.map((socket) => JSON.stringify(Object.entries(socket.subscriptions).sort()))
    .sort();
}

function expected(plans: readonly ShardPlan[]): string[] {
  return plans.filter((p, index) => index === 0 || p.instruments.size > 0)
    .map((p) => JSON.stringify([...p.instruments].map(([t, m]) => [String(t), m]).sort()))
    .sort();
}

Deno.test("the pool: a plan over two shards opens two sockets, diffs them, and replays both on a new token", async () => {
  let first = "";
  await using h = await startHarness({
    env: (sim) => envText(sim.url, [`KITE_ACCESS_TOKEN=${first = sim.issueAccessToken()}`]),
  });
  const { daemon } = h;
  await waitFor(daemon, "Live on one shard", (s) => s.state.name === "Live");

  // Every data message changes the snapshot, so these waits re-check the simulator per tick.
  function simShows(plans: readonly ShardPlan[]): (s: Snapshot) => boolean {
    const want = expected(plans);
    return (s) =>
      s.state.name === "Live" &&
      JSON.stringify(socketsSeen(h.sim.stats())) === JSON.stringify(want);
  }

  const two = [
    plan([[NIFTY, "full"], [BANKNIFTY, "full"]]),
    plan([[INFY, "quote"], [RELIANCE, "ltp"]]),
  ];
  const accepted = h.sim.stats().handshakes.accepted;
  daemon.actor.send({ type: "PlanChanged", plan: two });
  await waitFor(daemon, "two sockets carrying the plan", simShows(two));
  assert.equal(h.sim.stats().handshakes.accepted, accepted + 1, "one new socket");
  const status = await (await fetch(`${daemon.url}/status`)).json() as StatusBody;
  assert.deepEqual(
    status.feed.upstream.map(({ shard, state, instruments }) => ({ shard, state, instruments })),
    [
      { shard: 0, state: "streaming", instruments: 2 },
      { shard: 1, state: "streaming", instruments: 2 },
    ],
  );

  // A mode drop and an unsubscribe go out on the sockets already open.
  const less = [plan([[NIFTY, "quote"]]), plan([[INFY, "quote"]])];
  daemon.actor.send({ type: "PlanChanged", plan: less });
  await waitFor(daemon, "the smaller plan upstream", simShows(less));
  assert.equal(h.sim.stats().handshakes.accepted, accepted + 1, "no socket reopened for it");

  // A new token: both shards close and reopen, and each replays its plan.
  const second = h.sim.issueAccessToken();
  assert.notEqual(second, first);
  await Deno.writeTextFile(
    h.envFile,
    (await Deno.readTextFile(h.envFile)).replace(first, second),
  );
  await daemon.reload();
  await waitFor(
    daemon,
    "both shards back on the new token",
    (s) => s.token?.token === second && simShows(less)(s),
  );
  assert.equal(h.sim.stats().handshakes.accepted, accepted + 3);

  // Shard 1 with nothing to carry closes its socket; shard 0 stays.
  const one = [plan([[NIFTY, "quote"]])];
  daemon.actor.send({ type: "PlanChanged", plan: one });
  await waitFor(daemon, "one socket left", simShows(one));
  assert.equal(h.sim.stats().sockets_open, 1);
});
