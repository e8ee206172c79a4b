import assert from "node:assert/strict";
import { parseTimeOfDay } from "../../../src/lifecycle/expiry.ts";
import { isTradingDayAt, nextProbeAt, nextReminderAt } from "../../../src/lifecycle/schedule.ts";

/** IST wall time on a day of March 2026, as epoch ms. */
function ist(day: number, hour: number, minute: number): number {
  return Date.UTC(2026, 2, day, hour, minute) - 330 * 60_000;
}

// 2026-03-03 (Holi) is an NSE holiday; 2026-03-07/08 are a weekend.
const HOLIDAYS = new Set(["2026-03-03"]);
const PROBES = {
  expectedExpiry: ist(2, 6, 0),
  recheckAt: parseTimeOfDay("07:35"),
  intervalMs: 15 * 60_000,
  holidays: HOLIDAYS,
};
const REMINDERS = { remindAt: ["08:50", "08:30"].map(parseTimeOfDay), holidays: HOLIDAYS };

Deno.test("nextProbeAt() walks a trading morning: expiry, recheck, pre-open, then every interval", () => {
  const seen: number[] = [];
  let at = ist(1, 22, 0); // Sunday night
  while (at < ist(2, 10, 0)) {
    at = nextProbeAt(at, PROBES);
    seen.push(at);
  }
  assert.deepEqual(seen, [
    ist(2, 6, 0),
    ist(2, 7, 35),
    ist(2, 9, 0),
    ist(2, 9, 15),
    ist(2, 9, 30),
    ist(2, 9, 45),
    ist(2, 10, 0),
  ]);
  // After the close the next check is the next morning's recheck (the expiry has passed).
  assert.equal(nextProbeAt(ist(2, 16, 0), PROBES), ist(3, 7, 35));
});

Deno.test("nextProbeAt() skips market-hours probes on a holiday but keeps the daily recheck", () => {
  assert.equal(nextProbeAt(ist(3, 7, 35), PROBES), ist(4, 7, 35), "Holi: no pre-open");
  assert.equal(nextProbeAt(ist(7, 8, 0), PROBES), ist(8, 7, 35), "Saturday");
  assert.equal(nextProbeAt(ist(9, 7, 35), PROBES), ist(9, 9, 0), "Monday");
});

Deno.test("nextReminderAt() is strictly later, on trading days only, across a holiday and a weekend", () => {
  assert.equal(nextReminderAt(ist(2, 8, 0), REMINDERS), ist(2, 8, 30));
  assert.equal(nextReminderAt(ist(2, 8, 30), REMINDERS), ist(2, 8, 50), "one per time");
  assert.equal(nextReminderAt(ist(2, 8, 50), REMINDERS), ist(4, 8, 30), "the 3rd is Holi");
  assert.equal(nextReminderAt(ist(6, 9, 0), REMINDERS), ist(9, 8, 30), "over the weekend");
  assert.equal(nextReminderAt(ist(6, 9, 0), { ...REMINDERS, remindAt: [] }), null);
});

Deno.test("isTradingDayAt() knows weekends and holidays at any hour of the IST day", () => {
  assert.equal(isTradingDayAt(ist(2, 0, 0), HOLIDAYS), true);
  assert.equal(isTradingDayAt(ist(2, 23, 59), HOLIDAYS), true);
  assert.equal(isTradingDayAt(ist(3, 12, 0), HOLIDAYS), false);
  assert.equal(isTradingDayAt(ist(7, 12, 0), HOLIDAYS), false);
  assert.equal(isTradingDayAt(ist(8, 0, 1), HOLIDAYS), false);
});
