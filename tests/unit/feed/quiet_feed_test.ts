import assert from "node:assert/strict";
import fc from "fast-check";
import type { FeedSnapshot } from "../../../src/feed/store.ts";
import { nseHolidays2026 } from "../../../src/market/holidays_nse_2026.ts";
import { initialSnapshot, type Snapshot } from "../../../src/lifecycle/machine.ts";
import { marketPhase } from "../../../src/market/phase.ts";
import {
  assessQuietFeed,
  feedObservation,
  lastTickAt,
  quietFeedWarning,
} from "../../../src/feed/quiet_feed.ts";

/** Epoch ms of an IST wall-clock time, e.g. `ist("2026-03-04T09:15")`. */
function ist(local: string): number {
  const ms = Date.parse(`${local.length === 16 ? `${local}:00` : local}+05:30`);
  assert.ok(Number.isFinite(ms), `bad test instant ${local}`);
  return ms;
}

const MINUTE = 60_000;
const OPTIONS = { holidays: nseHolidays2026(), thresholdMs: 5 * MINUTE };

Deno.test("assessQuietFeed() turns quiet exactly N minutes after the last tick while open", () => {
  // Wednesday 2026-03-04: a trading day.
  const observation = { liveSince: ist("2026-03-04T10:00"), lastTickAt: ist("2026-03-04T10:01") };
  assert.deepEqual(assessQuietFeed(ist("2026-03-04T10:05:59.999"), observation, OPTIONS), {
    kind: "flowing",
    quietSince: ist("2026-03-04T10:01"),
  });
  assert.deepEqual(assessQuietFeed(ist("2026-03-04T10:06"), observation, OPTIONS), {
    kind: "quiet",
    quietSince: ist("2026-03-04T10:01"),
    quietMs: 5 * MINUTE,
  });
});

Deno.test("assessQuietFeed() counts from the opening bell, not from yesterday's last tick", () => {
  // Live all night; the last tick was at yesterday's close.
  const next = { liveSince: ist("2026-03-03T20:00"), lastTickAt: ist("2026-03-04T15:29") };
  assert.equal(assessQuietFeed(ist("2026-03-05T09:14"), next, OPTIONS).kind, "market_not_open");
  assert.deepEqual(assessQuietFeed(ist("2026-03-05T09:19:59.999"), next, OPTIONS), {
    kind: "flowing",
    quietSince: ist("2026-03-05T09:15"),
  });
  assert.deepEqual(assessQuietFeed(ist("2026-03-05T09:20"), next, OPTIONS), {
    kind: "quiet",
    quietSince: ist("2026-03-05T09:15"),
    quietMs: 5 * MINUTE,
  });
});

Deno.test("assessQuietFeed() counts from a reconnect when Live began after the last tick", () => {
  const observation = { liveSince: ist("2026-03-04T11:00"), lastTickAt: ist("2026-03-04T10:30") };
  assert.equal(assessQuietFeed(ist("2026-03-04T11:04"), observation, OPTIONS).kind, "flowing");
  assert.deepEqual(assessQuietFeed(ist("2026-03-04T11:05"), observation, OPTIONS), {
    kind: "quiet",
    quietSince: ist("2026-03-04T11:00"),
    quietMs: 5 * MINUTE,
  });
  // Never a tick at all since start-up: the same rule, from Live.
  const never = { liveSince: ist("2026-03-04T11:00"), lastTickAt: null };
  assert.equal(assessQuietFeed(ist("2026-03-04T11:05"), never, OPTIONS).kind, "quiet");
});

Deno.test("assessQuietFeed() never warns outside `open`: pre-open, buffer, closing, night, weekend, holiday", () => {
  const silent = { liveSince: ist("2026-02-01T00:00"), lastTickAt: null };
  const table: readonly [string, string][] = [
    ["2026-03-04T09:05", "pre_open"],
    ["2026-03-04T09:14", "pre_open_matching"],
    ["2026-03-04T15:35", "closed"],
    ["2026-03-04T15:50", "closing"],
    ["2026-03-04T22:00", "closed"],
    ["2026-03-07T11:00", "closed"], // Saturday
    ["2026-01-26T11:00", "closed"], // Republic Day, a Monday
  ];
  for (const [at, phase] of table) {
    assert.deepEqual(
      assessQuietFeed(ist(at), silent, OPTIONS),
      { kind: "market_not_open", phase },
      `at ${at} IST`,
    );
  }
});

Deno.test("assessQuietFeed() has nothing to say while the feed is not Live", () => {
  const verdict = assessQuietFeed(
    ist("2026-03-04T12:00"),
    { liveSince: null, lastTickAt: ist("2026-03-04T09:30") },
    OPTIONS,
  );
  assert.deepEqual(verdict, { kind: "not_live" });
  assert.equal(quietFeedWarning(verdict), null);
});

Deno.test("assessQuietFeed() is quiet only in `open`, and then exactly when the quiet time reaches N", () => {
  const from = ist("2026-01-01T00:00");
  const to = ist("2026-12-31T23:59");
  fc.assert(
    fc.property(
      fc.integer({ min: from, max: to }),
      fc.integer({ min: 0, max: 3 * 86_400_000 }),
      fc.option(fc.integer({ min: 0, max: 3 * 86_400_000 })),
      fc.integer({ min: 1, max: 120 }),
      (now, liveAgo, tickAgo, minutes) => {
        const thresholdMs = minutes * MINUTE;
        const observation = {
          liveSince: now - liveAgo,
          lastTickAt: tickAgo === null ? null : now - tickAgo,
        };
        const verdict = assessQuietFeed(now, observation, { ...OPTIONS, thresholdMs });
        const phase = marketPhase(now, { holidays: OPTIONS.holidays }).phase;
        if (phase !== "open") {
          assert.deepEqual(verdict, { kind: "market_not_open", phase });
          return;
        }
        assert.ok(verdict.kind === "quiet" || verdict.kind === "flowing");
        // The quiet time starts in today's session, at or after the later of Live and the tick.
        assert.ok(verdict.quietSince <= now);
        assert.ok(verdict.quietSince >= observation.liveSince);
        assert.ok(verdict.quietSince >= (observation.lastTickAt ?? -Infinity));
        assert.equal(marketPhase(verdict.quietSince, { holidays: OPTIONS.holidays }).phase, "open");
        assert.equal(verdict.kind === "quiet", now - verdict.quietSince >= thresholdMs);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("assessQuietFeed() rejects a threshold that is not positive", () => {
  const observation = { liveSince: 0, lastTickAt: null };
  for (const thresholdMs of [0, -1, Number.NaN, Infinity]) {
    assert.throws(
      () => assessQuietFeed(ist("2026-03-04T12:00"), observation, { ...OPTIONS, thresholdMs }),
      RangeError,
      String(thresholdMs),
    );
  }
});

Deno.test("quietFeedWarning() names whole minutes and the instant the quiet began", () => {
  const warning = quietFeedWarning({
    kind: "quiet",
    quietSince: ist("2026-03-04T10:01"),
    quietMs: 7 * MINUTE + 59_999,
  });
  assert.ok(warning !== null);
  assert.match(warning, /^No ticks for 7 min while the market is open/);
  assert.ok(warning.includes("2026-03-04T04:31:00.000Z"), warning);
  assert.equal(quietFeedWarning({ kind: "flowing", quietSince: 0 }), null);
  assert.equal(quietFeedWarning({ kind: "market_not_open", phase: "closed" }), null);
});

Deno.test("lastTickAt() is the newest instrument's tick, and feedObservation() reads Live's since", () => {
  const feed: FeedSnapshot = {
    instruments: {
      "256265": {
        name: "NIFTY 50",
        last_price: 1,
        change: 0,
        change_percent: 0,
        at: "2026-03-04T04:40:00.000Z",
      },
      "260105": {
        name: "NIFTY BANK",
        last_price: 1,
        change: 0,
        change_percent: 0,
        at: "2026-03-04T04:41:30.000Z",
      },
    },
    // A heartbeat after the last tick is data, not a tick.
    last_data_at: "2026-03-04T04:50:00.000Z",
    ticks_total: 2,
    decode_errors_total: 0,
    ignored_ticks_total: 0,
  };
  assert.equal(lastTickAt(feed), Date.parse("2026-03-04T04:41:30.000Z"));
  const empty: FeedSnapshot = { ...feed, instruments: {} };
  assert.equal(lastTickAt(empty), null);

  const disconnected = initialSnapshot(1_000);
  assert.deepEqual(feedObservation(disconnected, empty), { liveSince: null, lastTickAt: null });
  const live: Snapshot = {
    ...disconnected,
    state: { name: "Live", since: 5_000, gen: 1, fingerprint: "0123456789ab" },
  };
  assert.deepEqual(feedObservation(live, feed), {
    liveSince: 5_000,
    lastTickAt: Date.parse("2026-03-04T04:41:30.000Z"),
  });
});
