import assert from "node:assert/strict";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { type Harness, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { hasTicksFor } from "../_support/daemon_fixture.ts";

function ist(local: string): number {
  const ms = Date.parse(`${local}:00+05:30`);
  assert.ok(Number.isFinite(ms), `bad test instant ${local}`);
  return ms;
}

const MINUTE = 60_000;

/**
 * A real simulator and daemon on a fake clock that starts at `start`, Live with ticks. The
 * watchdog is stretched so moving the clock minutes ahead does not read as a stall.
 */
async function liveAt(start: number): Promise<{ h: Harness; clock: FakeClock }> {
  const clock = new FakeClock(start);
  const h = await startHarness({ daemon: { clock }, config: { stallMs: 24 * 60 * MINUTE } });
  // The fake clock holds the watcher's first read back; reload() reads .env now.
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${h.sim.issueAccessToken()}\r\n`, {
    append: true,
  });
  await h.daemon.reload();
  await waitFor(
    h.daemon,
    "Live with ticks",
    (s) => s.state.name === "Live" && hasTicksFor(h.daemon, [256265]),
  );
  return { h, clock };
}

Deno.test("/status shows the market phase and when it changes", async () => {
  // Wednesday 2026-03-04, mid-session: open until 15:30 IST.
  const { h } = await liveAt(ist("2026-03-04T10:00"));
  await using _ = h;
  const response = await fetch(`${h.daemon.url}/status`);
  const body = await response.json() as StatusBody;
  assert.equal(response.status, 200);
  assert.deepEqual(body.market, { phase: "open", next_change: "2026-03-04T10:00:00.000Z" });
  assert.equal(body.feed.warning, null);
});

Deno.test("a Live feed without ticks for 5 minutes while open warns once in the log and in /status", async () => {
  const { h, clock } = await liveAt(ist("2026-03-04T10:00"));
  await using _ = h;
  const quietLines = () => h.lines.filter((line) => line.includes("No ticks for"));

  // Ticks arrive on real sockets but are stamped with the fake time, which stands still
  // until tick() moves it; tick() runs the due checks synchronously, before any new tick.
  clock.tick(4 * MINUTE);
  assert.deepEqual(quietLines(), []);
  clock.tick(MINUTE + 15_000);
  const status = h.daemon.status();
  assert.equal(status.state, "Live");
  assert.match(status.feed.warning ?? "", /^No ticks for 5 min while the market is open/);
  assert.equal(quietLines().length, 1);
  assert.match(quietLines()[0]!, /^warn No ticks for 5 min/);

  clock.tick(10 * MINUTE);
  assert.equal(quietLines().length, 1, "once per episode");
});

Deno.test("the same silence after the close warns nowhere", async () => {
  // 20:00 IST: closed until Thursday's pre-open at 09:00 IST (03:30 UTC).
  const { h, clock } = await liveAt(ist("2026-03-04T20:00"));
  await using _ = h;
  clock.tick(60 * MINUTE);
  const status = h.daemon.status();
  assert.equal(status.state, "Live");
  assert.deepEqual(status.market, { phase: "closed", next_change: "2026-03-05T03:30:00.000Z" });
  assert.equal(status.feed.warning, null);
  assert.deepEqual(h.lines.filter((line) => line.includes("No ticks for")), []);
});
