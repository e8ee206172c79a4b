import assert from "node:assert/strict";
import {
  emptyGapTally,
  gapSecondsTotal,
  gapsToday,
  type GapTally,
  observeGaps,
  type ShardObservation,
} from "../../../src/feed/gap_tracker.ts";
import { istInstant } from "../../../src/journal/journal_day.ts";

const OPEN = istInstant("2026-12-02", "09:15");
const CLOSE = istInstant("2026-12-02", "15:30");
const STALL = { stallMs: 5000 };
const streaming = (activeAt: number): ShardObservation => ({
  planned: true,
  socket: "open",
  activeAt,
});
const down: ShardObservation = { planned: true, socket: "none", activeAt: null };
const idle: ShardObservation = { planned: false, socket: "none", activeAt: null };

/** Feeds observations in order; returns the final tally and every gap that closed. */
function run(
  steps: readonly { now: number; shards: ShardObservation[]; open?: boolean }[],
  start = OPEN - 60_000,
) {
  let tally: GapTally = emptyGapTally(start);
  const closed = [];
  for (const { now, shards, open = now >= OPEN && now < CLOSE } of steps) {
    const step = observeGaps(tally, { now, openSince: open ? OPEN : null, shards }, STALL);
    tally = step.tally;
    closed.push(...step.closed);
  }
  return { tally, closed };
}

Deno.test("observeGaps() counts a drop during market hours from the last data to the next", () => {
  const { tally, closed } = run([
    { now: OPEN + 1000, shards: [streaming(OPEN + 1000)] },
    { now: OPEN + 2000, shards: [down] }, // the socket failed
    { now: OPEN + 2500, shards: [{ planned: true, socket: "opening", activeAt: null }] },
    { now: OPEN + 3000, shards: [streaming(OPEN + 3000)] },
  ]);
  assert.deepEqual(closed, [{ shard: 0, start: OPEN + 1000, end: OPEN + 3000, cause: "not_live" }]);
  assert.deepEqual(gapsToday(tally, OPEN + 4000), {
    count: 1,
    seconds: 2,
    last: [{
      shard: 0,
      start: new Date(OPEN + 1000).toISOString(),
      end: new Date(OPEN + 3000).toISOString(),
      seconds: 2,
      cause: "not_live",
    }],
  });
});

Deno.test("observeGaps() counts silence past the stall limit from the last sign of life", () => {
  const { tally, closed } = run([
    { now: OPEN + 1000, shards: [streaming(OPEN + 1000)] },
    { now: OPEN + 5000, shards: [streaming(OPEN + 1000)] }, // 4 s: within the limit
    { now: OPEN + 7000, shards: [streaming(OPEN + 1000)] }, // 6 s: a gap since 1000
  ]);
  assert.deepEqual(closed, []);
  assert.deepEqual(tally.open, [{ shard: 0, start: OPEN + 1000, cause: "silent" }]);
  const today = gapsToday(tally, OPEN + 9000);
  assert.equal(today.count, 1);
  assert.equal(today.seconds, 8);
  assert.equal(today.last[0]?.end, null);
  assert.equal(gapSecondsTotal(tally, OPEN + 9000), 8);
});

Deno.test("observeGaps() ignores closed-market time: the 06:00 rotation is no gap", () => {
  const sixAm = istInstant("2026-12-02", "06:00");
  const { tally, closed } = run([
    { now: sixAm - 1000, shards: [streaming(sixAm - 1000)] },
    { now: sixAm, shards: [down] },
    { now: sixAm + 60_000, shards: [down] },
    { now: sixAm + 120_000, shards: [streaming(sixAm + 120_000)] },
  ], sixAm - 2000);
  assert.deepEqual(closed, []);
  assert.deepEqual(gapsToday(tally, sixAm + 130_000), { count: 0, seconds: 0, last: [] });
});

Deno.test("observeGaps() starts a gap at the opening when the feed was down before, ends it at the close", () => {
  const { closed } = run([
    { now: OPEN - 1000, shards: [down] },
    { now: OPEN + 500, shards: [down] },
    { now: CLOSE + 200, shards: [down] },
  ]);
  assert.deepEqual(closed, [{ shard: 0, start: OPEN, end: CLOSE + 200, cause: "not_live" }]);
});

Deno.test("observeGaps() tracks shards apart, and a shard without instruments never gaps", () => {
  const { tally, closed } = run([
    { now: OPEN + 1000, shards: [streaming(OPEN + 1000), streaming(OPEN + 900), idle] },
    { now: OPEN + 2000, shards: [streaming(OPEN + 2000), down, idle] },
    { now: OPEN + 4000, shards: [down, streaming(OPEN + 4000), idle] },
    { now: OPEN + 4500, shards: [streaming(OPEN + 4500), streaming(OPEN + 4500), idle] },
  ]);
  assert.deepEqual(closed, [
    { shard: 1, start: OPEN + 900, end: OPEN + 4000, cause: "not_live" },
    { shard: 0, start: OPEN + 2000, end: OPEN + 4500, cause: "not_live" },
  ]);
  assert.equal(tally.count, 2);
  assert.equal(gapsToday(tally, OPEN + 5000).seconds, 5.6);
});

Deno.test("observeGaps() starts the day's count afresh at IST midnight, the counter goes on", () => {
  const first = run([
    { now: OPEN + 1000, shards: [streaming(OPEN + 1000)] },
    { now: OPEN + 2000, shards: [down] },
    { now: OPEN + 3000, shards: [streaming(OPEN + 3000)] },
  ]);
  const nextDay = OPEN + 86_400_000;
  assert.equal(gapsToday(first.tally, nextDay).count, 0);
  assert.deepEqual(gapsToday(first.tally, nextDay).last, []);
  assert.equal(gapSecondsTotal(first.tally, nextDay), 2);
});

Deno.test("observeGaps() started during market hours counts from its own start, not the opening", () => {
  const { closed } = run([
    { now: OPEN + 60_000, shards: [down] },
    { now: OPEN + 60_300, shards: [streaming(OPEN + 60_300)] },
  ], OPEN + 60_000);
  assert.deepEqual(closed, [{
    shard: 0,
    start: OPEN + 60_000,
    end: OPEN + 60_300,
    cause: "not_live",
  }]);
});
