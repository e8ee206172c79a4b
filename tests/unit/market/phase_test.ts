import assert from "node:assert/strict";
import fc from "fast-check";
import { marketPhase, type MarketPhaseName, parseHolidays } from "../../../src/market/phase.ts";
import { NSE_HOLIDAYS_2026_TEXT, nseHolidays2026 } from "../../../src/market/holidays_nse_2026.ts";

/** Epoch ms of an IST wall-clock time, e.g. `ist("2026-03-04T09:15")`. */
function ist(local: string): number {
  const ms = Date.parse(`${local.length === 16 ? `${local}:00` : local}+05:30`);
  assert.ok(Number.isFinite(ms), `bad test instant ${local}`);
  return ms;
}

const NO_HOLIDAYS: ReadonlySet<string> = new Set();
const NSE_2026 = nseHolidays2026();

Deno.test("marketPhase() places every boundary of a plain trading day in the phase it starts", () => {
  // Wednesday 2026-03-04: a trading day, and Thursday 03-05 is one too.
  const table: readonly [string, MarketPhaseName, string][] = [
    ["2026-03-04T00:00", "closed", "2026-03-04T09:00"],
    ["2026-03-04T08:59:59.999", "closed", "2026-03-04T09:00"],
    ["2026-03-04T09:00", "pre_open", "2026-03-04T09:08"],
    ["2026-03-04T09:07:59.999", "pre_open", "2026-03-04T09:08"],
    ["2026-03-04T09:08", "pre_open_matching", "2026-03-04T09:15"],
    ["2026-03-04T09:12", "pre_open_matching", "2026-03-04T09:15"],
    ["2026-03-04T09:14:59.999", "pre_open_matching", "2026-03-04T09:15"],
    ["2026-03-04T09:15", "open", "2026-03-04T15:30"],
    ["2026-03-04T12:00", "open", "2026-03-04T15:30"],
    ["2026-03-04T15:29:59.999", "open", "2026-03-04T15:30"],
    ["2026-03-04T15:30", "closed", "2026-03-04T15:40"],
    ["2026-03-04T15:39:59.999", "closed", "2026-03-04T15:40"],
    ["2026-03-04T15:40", "closing", "2026-03-04T16:00"],
    ["2026-03-04T15:59:59.999", "closing", "2026-03-04T16:00"],
    ["2026-03-04T16:00", "closed", "2026-03-05T09:00"],
    ["2026-03-04T23:59:59.999", "closed", "2026-03-05T09:00"],
  ];
  for (const [at, phase, next] of table) {
    assert.deepEqual(
      marketPhase(ist(at), { holidays: NSE_2026 }),
      { phase, next_change: ist(next) },
      `at ${at} IST`,
    );
  }
});

Deno.test("marketPhase() reads the day in IST, not UTC", () => {
  // 09:00 IST Monday is 03:30 UTC; 00:30 IST Monday is still Sunday in UTC.
  assert.equal(new Date(ist("2026-03-09T00:30")).getUTCDay(), 0);
  assert.deepEqual(marketPhase(ist("2026-03-09T00:30"), { holidays: NO_HOLIDAYS }), {
    phase: "closed",
    next_change: ist("2026-03-09T09:00"),
  });
  // 16:10 IST Friday is 10:40 UTC Friday; the next opening is Monday, not Saturday.
  assert.deepEqual(marketPhase(ist("2026-03-06T16:10"), { holidays: NO_HOLIDAYS }), {
    phase: "closed",
    next_change: ist("2026-03-09T09:00"),
  });
});

Deno.test("marketPhase() is closed all weekend and next changes at Monday's pre-open", () => {
  for (
    const at of ["2026-03-07T00:00", "2026-03-07T10:00", "2026-03-08T09:15", "2026-03-08T23:59"]
  ) {
    assert.deepEqual(
      marketPhase(ist(at), { holidays: NO_HOLIDAYS }),
      { phase: "closed", next_change: ist("2026-03-09T09:00") },
      `at ${at} IST`,
    );
  }
});

Deno.test("marketPhase() is closed on a holiday that would otherwise be open", () => {
  // Holi, Tuesday 2026-03-03, mid-session.
  const at = ist("2026-03-03T11:00");
  assert.deepEqual(marketPhase(at, { holidays: NO_HOLIDAYS }), {
    phase: "open",
    next_change: ist("2026-03-03T15:30"),
  });
  assert.deepEqual(marketPhase(at, { holidays: NSE_2026 }), {
    phase: "closed",
    next_change: ist("2026-03-04T09:00"),
  });
  // Monday's close skips the holiday too.
  assert.equal(
    marketPhase(ist("2026-03-02T16:00"), { holidays: NSE_2026 }).next_change,
    ist("2026-03-04T09:00"),
  );
});

Deno.test("marketPhase() skips a long weekend: Good Friday, then Christmas into the next week", () => {
  // Thursday 2026-04-02 after the close → Good Friday, Saturday, Sunday → Monday 04-06.
  assert.deepEqual(marketPhase(ist("2026-04-02T16:00"), { holidays: NSE_2026 }), {
    phase: "closed",
    next_change: ist("2026-04-06T09:00"),
  });
  assert.deepEqual(marketPhase(ist("2026-04-04T12:00"), { holidays: NSE_2026 }), {
    phase: "closed",
    next_change: ist("2026-04-06T09:00"),
  });
  // A holidays file may add days: Christmas Friday plus a Monday off → Tuesday 12-29.
  const extended = new Set([...NSE_2026, "2026-12-28"]);
  assert.deepEqual(marketPhase(ist("2026-12-24T15:45"), { holidays: extended }), {
    phase: "closing",
    next_change: ist("2026-12-24T16:00"),
  });
  assert.deepEqual(marketPhase(ist("2026-12-24T16:00"), { holidays: extended }), {
    phase: "closed",
    next_change: ist("2026-12-29T09:00"),
  });
});

Deno.test("marketPhase() holds its phase until next_change and changes exactly there", () => {
  const from = ist("2025-12-20T00:00");
  const to = ist("2027-01-10T00:00");
  fc.assert(
    fc.property(fc.integer({ min: from, max: to }), (now) => {
      const here = marketPhase(now, { holidays: NSE_2026 });
      assert.ok(here.next_change > now);
      assert.equal(marketPhase(here.next_change - 1, { holidays: NSE_2026 }).phase, here.phase);
      assert.notEqual(marketPhase(here.next_change, { holidays: NSE_2026 }).phase, here.phase);
      // Nothing closes for more than a long weekend plus a holiday or two.
      assert.ok(here.next_change - now <= 5 * 86_400_000);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("marketPhase() rejects a non-finite instant and a calendar with no trading day", () => {
  assert.throws(() => marketPhase(Number.NaN, { holidays: NO_HOLIDAYS }), RangeError);
  const everyDay = new Set<string>();
  const start = Date.UTC(2026, 0, 1);
  for (let day = 0; day < 3700; day++) {
    everyDay.add(new Date(start + day * 86_400_000).toISOString().slice(0, 10));
  }
  assert.throws(
    () => marketPhase(ist("2026-01-01T12:00"), { holidays: everyDay }),
    (error: unknown) => error instanceof RangeError && /all holidays/.test(error.message),
  );
});

Deno.test("parseHolidays() reads dates, skips blanks and comments, accepts CRLF", () => {
  const text = "# NSE extras\r\n\r\n2026-01-15  # elections\r\n  2026-12-31\r\n2026-01-15\r\n";
  assert.deepEqual([...parseHolidays(text)], ["2026-01-15", "2026-12-31"]);
  assert.equal(parseHolidays("").size, 0);
  assert.equal(parseHolidays("# only a comment\n").size, 0);
});

Deno.test("parseHolidays() names the bad line, its number and the source", () => {
  const cases: readonly [string, number, string][] = [
    ["2026-01-26\n2026-02-30\n", 2, "2026-02-30"],
    ["# ok\n2026-13-01\n", 2, "2026-13-01"],
    ["2026-1-5\n", 1, "2026-1-5"],
    ["\n\n26/01/2026 # Republic Day\n", 3, "26/01/2026 # Republic Day"],
    ["2026-01-26 2026-01-27\n", 1, "2026-01-26 2026-01-27"],
  ];
  for (const [text, line, shown] of cases) {
    assert.throws(
      () => parseHolidays(text, { source: "/etc/kitekeeper/holidays.txt" }),
      (error: unknown) => {
        assert.ok(error instanceof SyntaxError);
        assert.equal(
          error.message,
          `Failed to parse holidays in /etc/kitekeeper/holidays.txt: line ${line} ${
            JSON.stringify(shown)
          } is not a calendar date (YYYY-MM-DD)`,
        );
        return true;
      },
    );
  }
});

Deno.test("nseHolidays2026() lists 2026 weekdays only, and returns a fresh set each call", () => {
  const holidays = nseHolidays2026();
  assert.ok(holidays.size >= 15, `only ${holidays.size} holidays`);
  for (const date of holidays) {
    assert.ok(date.startsWith("2026-"), date);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    assert.ok(weekday >= 1 && weekday <= 5, `${date} falls on a weekend: it needs no line`);
  }
  assert.ok(holidays.has("2026-01-26"), "Republic Day");
  assert.ok(holidays.has("2026-12-25"), "Christmas");
  holidays.delete("2026-01-26");
  assert.ok(nseHolidays2026().has("2026-01-26"));
  assert.equal(parseHolidays(NSE_HOLIDAYS_2026_TEXT).size, nseHolidays2026().size);
});
