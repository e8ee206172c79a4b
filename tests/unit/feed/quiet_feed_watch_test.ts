import assert from "node:assert/strict";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { nseHolidays2026 } from "../../../src/market/holidays_nse_2026.ts";
import type { LogLevel } from "../../../src/log_level.ts";
import type { FeedObservation } from "../../../src/feed/quiet_feed.ts";
import { watchQuietFeed } from "../../../src/feed/quiet_feed_watch.ts";

function ist(local: string): number {
  const ms = Date.parse(`${local}:00+05:30`);
  assert.ok(Number.isFinite(ms), `bad test instant ${local}`);
  return ms;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A watch on a fake clock over a settable observation, with every log line kept. */
function setup(start: number, observation: FeedObservation) {
  const clock = new FakeClock(start);
  const lines: string[] = [];
  const feed = { current: observation };
  const watch = watchQuietFeed(() => feed.current, {
    clock,
    log: (level: LogLevel, message: string) => lines.push(`${level} ${message}`),
    holidays: nseHolidays2026(),
    thresholdMs: 5 * MINUTE,
    checkEveryMs: 15_000,
  });
  return { clock, lines, feed, watch };
}

Deno.test("watchQuietFeed() warns once per quiet episode and notes when ticks resume", () => {
  const start = ist("2026-03-04T10:00");
  const { clock, lines, feed, watch } = setup(start, { liveSince: start, lastTickAt: start });

  clock.tick(4 * MINUTE + 59_000);
  assert.deepEqual(lines, []);
  assert.equal(watch.warning(), null);

  clock.tick(15_000); // the first check at or after 10:05 warns
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^warn No ticks for 5 min while the market is open/);
  assert.match(watch.warning() ?? "", /^No ticks for 5 min/);

  clock.tick(20 * MINUTE); // the same episode: no repeat
  assert.equal(lines.length, 1);
  assert.match(watch.warning() ?? "", /^No ticks for 2\d min/);

  feed.current = { ...feed.current, lastTickAt: clock.now() };
  assert.equal(watch.warning(), null, "/status clears at once");
  clock.tick(15_000);
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^info Ticks resumed after about 25 min of quiet$/);

  clock.tick(5 * MINUTE); // a new silence is a new episode
  assert.equal(lines.length, 3);
  assert.match(lines[2]!, /^warn No ticks for 5 min/);
  watch.stop();
});

Deno.test("watchQuietFeed() stays silent overnight and over a holiday weekend, and warns after the bell", () => {
  // Thursday 2026-04-02 after the close; Good Friday, then the weekend; Monday 04-06 opens.
  const start = ist("2026-04-02T16:00");
  const { clock, lines, watch } = setup(start, { liveSince: start, lastTickAt: null });

  clock.tick(ist("2026-04-06T09:15") - start - 1);
  assert.equal(lines.length, 0, `no warning through 89 quiet hours, closed: ${lines.join("; ")}`);
  clock.tick(5 * MINUTE + 1);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^warn No ticks for 5 min/);
  assert.ok(lines[0]!.includes("2026-04-06T03:45:00.000Z"), "quiet since the 09:15 IST bell");

  // The close ends the episode without a "resumed" line; the next session warns afresh.
  clock.tick(ist("2026-04-07T09:20") - clock.now());
  assert.equal(lines.length, 2);
  assert.ok(lines[1]!.includes("2026-04-07T03:45:00.000Z"), lines[1]);
  watch.stop();
});

Deno.test("watchQuietFeed() says nothing while the feed is not Live", () => {
  const start = ist("2026-03-04T10:00");
  const { clock, lines, watch } = setup(start, { liveSince: null, lastTickAt: null });
  clock.tick(3 * HOUR);
  assert.deepEqual(lines, []);
  assert.equal(watch.verdict().kind, "not_live");
  watch.stop();
});

Deno.test("watchQuietFeed().stop() cancels its timer and no check runs after it", () => {
  const start = ist("2026-03-04T10:00");
  const { clock, lines, watch } = setup(start, { liveSince: start, lastTickAt: null });
  assert.equal(clock.pending, 1);
  watch.stop();
  watch.stop();
  assert.equal(clock.pending, 0);
  clock.tick(HOUR);
  assert.deepEqual(lines, []);
});

Deno.test("watchQuietFeed() looks at the next phase overnight, and once per threshold while ticks flow", () => {
  const start = ist("2026-03-04T20:00");
  const { clock, lines, feed, watch } = setup(start, { liveSince: start, lastTickAt: start });
  clock.tick(15_000); // the first look finds the market closed: the next is at pre-open
  assert.equal(clock.pending, 1);
  assert.equal(clock.nextDue, ist("2026-03-05T09:00"));
  clock.tick(ist("2026-03-05T09:15") - clock.now()); // the bell
  let looks = 0;
  for (let second = 0; second < 30 * 60; second++) {
    feed.current = { ...feed.current, lastTickAt: clock.now() };
    const due = clock.nextDue;
    clock.tick(1000);
    if (due !== undefined && due <= clock.now()) looks++;
  }
  // A tick a second: a look when the threshold (5 min) would be reached, not every 15 s.
  assert.ok(looks <= 30 / 5 + 1, `${looks} looks in 30 min`);
  assert.deepEqual(lines, []);
  clock.tick(5 * MINUTE); // then silence: warned on the threshold
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^warn No ticks for 5 min/);
  watch.stop();
});
