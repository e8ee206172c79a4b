/**
 * The daemon's journal and gaps over real sockets: the simulator's messages land in the
 * journal byte for byte with their shard, lifecycle changes and gaps beside them, and a drop
 * during market hours is a gap in `/status` and `/metrics`.
 */
import assert from "node:assert/strict";
import { decode } from "../../src/kite/packets.ts";
import { istInstant, journalFileName } from "../../src/journal/journal_day.ts";
import { type JournalEnd, readJournal } from "../../src/journal/reader.ts";
import type { JournalRecord } from "../../src/journal/record.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { envText, simControl, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { skewedClock } from "../_support/daemon_fixture.ts";
import { startReceiver } from "../_support/receiver.ts";
import { istDate } from "../../src/market/ist_time.ts";

const DATE = "2026-12-02";

async function journalRecords(dir: string): Promise<{ records: JournalRecord[]; end: JournalEnd }> {
  const records: JournalRecord[] = [];
  let end: JournalEnd | undefined;
  for await (const record of readJournal(`${dir}/${DATE}.kkj`, { onEnd: (e) => end = e })) {
    records.push(record);
  }
  return { records, end: end! };
}

Deno.test("daemon journal: messages with their shard, lifecycle changes, and a drop as a gap", async () => {
  // 11:00 IST on a trading day: the market is open.
  const clock = skewedClock();
  clock.skew = istInstant(DATE, "11:00") - Date.now();
  let token = "";
  await using h = await startHarness({
    env: (sim) => {
      token = sim.issueAccessToken();
      return envText(sim.url, [`KITE_ACCESS_TOKEN=${token}`, "KITEKEEPER_JOURNAL_DIR=journal"]);
    },
    daemon: { clock },
  });
  const { daemon } = h;
  const live = (s: { state: { name: string } }) => s.state.name === "Live";
  await waitFor(daemon, "Live", live);
  await waitFor(daemon, "data", (s) => s.lastDataAt !== null);
  const gen = daemon.actor.snapshot().gen;
  await simControl(h.sim, "drop");
  await waitFor(daemon, "a new socket", (s) => s.gen > gen && live(s));
  await waitFor(
    daemon,
    "data on it",
    (s) => (s.shards[0]?.socket?.activeAt ?? 0) > clock.now() - 50,
  );
  // The gap closes with the first data on the new socket; the watch sees it at once.
  const status = await (await daemon.app.request("/status")).json() as StatusBody;
  // Two: the first connection at startup (nothing was received until then), and the drop.
  assert.equal(status.feed.gaps_today.count, 2, JSON.stringify(status.feed.gaps_today));
  const gap = status.feed.gaps_today.last[1];
  assert.equal(gap?.shard, 0);
  assert.equal(gap?.cause, "not_live");
  assert.ok(gap !== undefined && gap.end !== null && gap.seconds > 0 && gap.seconds < 5);
  assert.equal(status.journal?.state, "writing");
  const metrics = await (await daemon.app.request("/metrics")).text();
  const seconds = Number(/^kitekeeper_feed_gap_seconds_total (\S+)$/m.exec(metrics)?.[1]);
  assert.ok(seconds > 0 && seconds === status.feed.gaps_today.seconds, metrics);
  assert.match(metrics, /^kitekeeper_journal_up 1$/m);
  await daemon.close();
  // Read after the close: ticks kept flowing (and being journaled) until the socket closed.
  const sent = h.sim.stats().ticks_sent;

  const { records, end } = await journalRecords(`${h.dir}/journal`);
  assert.equal(end.kind, "complete");
  const messages = records.filter((r) => r.kind === "message");
  const ticks = messages.flatMap((r) => {
    const decoded = decode(r.bytes);
    assert.equal(decoded.kind, "ticks", "no heartbeat is journaled");
    return decoded.kind === "ticks" ? decoded.ticks : [];
  });
  assert.ok(ticks.length > 0 && ticks.length <= sent, `${ticks.length} of ${sent} ticks`);
  assert.ok(messages.every((r) => r.shard === 0));
  const times = records.map((r) => r.at_us);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "records in receive order");
  const states = records.flatMap((r) => r.kind === "lifecycle" ? [r.change.state] : []);
  assert.deepEqual(states.slice(0, 3), ["Disconnected", "Reconnecting", "Live"]);
  assert.ok(states.includes("Reconnecting", 3), `the drop shows: ${states}`);
  const live0 = records.find((r) => r.kind === "lifecycle" && r.change.state === "Live");
  assert.ok(live0?.kind === "lifecycle");
  assert.match(live0.change.fingerprint ?? "", /^[0-9a-f]{12}$/);
  assert.ok(!JSON.stringify(records.filter((r) => r.kind !== "message")).includes(token));
  const gaps = records.filter((r) => r.kind === "gap");
  assert.equal(gaps.length, 2);
  assert.equal(gaps[1]?.kind === "gap" && gaps[1].gap.cause, "not_live");
});

Deno.test("daemon journal: a drop with the market closed is no gap", async () => {
  const clock = skewedClock();
  clock.skew = istInstant(DATE, "06:00") - Date.now();
  await using h = await startHarness({
    env: (sim) =>
      envText(sim.url, [`KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`, "KITEKEEPER_JOURNAL_DIR=j"]),
    daemon: { clock },
  });
  const { daemon } = h;
  await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  const gen = daemon.actor.snapshot().gen;
  await simControl(h.sim, "drop");
  await waitFor(daemon, "Live again", (s) => s.gen > gen && s.state.name === "Live");
  const status = await (await daemon.app.request("/status")).json() as StatusBody;
  assert.deepEqual(status.feed.gaps_today, { count: 0, seconds: 0, last: [] });
});

Deno.test("daemon journal: a day file that is not a journal stops journaling loudly (status, notification), never the feed", async () => {
  await using receiver = await startReceiver();
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_journal_foreign_" });
  try {
    const day = `${dir}/${journalFileName(istDate(Date.now()))}`;
    const foreign = new TextEncoder().encode("not a journal, someone else's file\n");
    await Deno.writeFile(day, foreign);
    await using h = await startHarness({
      env: (sim) =>
        envText(sim.url, [
          `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
          `KITEKEEPER_JOURNAL_DIR=${dir}`,
          `KITEKEEPER_NOTIFY_URL=${receiver.url}/hook`,
          "KITEKEEPER_NOTIFY_FORMAT=json",
        ]),
    });
    const { daemon } = h;
    await waitFor(daemon, "Live", (s) => s.state.name === "Live");
    // A guard, so a missing notification fails the test instead of hanging it.
    let guard: ReturnType<typeof setTimeout> | undefined;
    const received = await Promise.race([
      receiver.next(),
      new Promise<never>((_, reject) => {
        guard = setTimeout(() => reject(new Error("No notification within 10 s")), 10_000);
      }),
    ]).finally(() => clearTimeout(guard));
    const body = JSON.parse(received.body) as { event: string; reason: string };
    assert.equal(body.event, "journal_stopped");
    assert.ok(body.reason.length > 0);
    const status = await (await daemon.app.request("/status")).json() as StatusBody;
    assert.equal(status.journal?.state, "stopped");
    assert.equal(status.state, "Live", "the feed goes on");
    assert.deepEqual(await Deno.readFile(day), foreign, "the foreign file is left untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
