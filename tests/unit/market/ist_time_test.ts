import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatTimeOfDay,
  isCalendarDate,
  IST_OFFSET_MS,
  istDate,
  istWallClock,
  nextIstTime,
  parseIstWallClock,
  parseTimeOfDay,
} from "../../../src/market/ist_time.ts";

const SIX = { hour: 6, minute: 0 };

Deno.test("nextIstTime() picks 06:00 IST the same day when it is still ahead", () => {
  // 2024-03-11 01:30 IST = 2024-03-10 20:00 UTC (the UTC date is still the day before).
  assert.equal(nextIstTime(Date.UTC(2024, 2, 10, 20, 0), SIX), Date.UTC(2024, 2, 11, 0, 30));
});

Deno.test("nextIstTime() picks 06:00 IST the next day once it has passed", () => {
  // 2024-03-11 09:30 IST → 2024-03-12 06:00 IST = 2024-03-12 00:30 UTC.
  assert.equal(nextIstTime(Date.UTC(2024, 2, 11, 4, 0), SIX), Date.UTC(2024, 2, 12, 0, 30));
  // 23:59 IST on 31 Dec rolls into the new year.
  assert.equal(
    nextIstTime(Date.UTC(2024, 11, 31, 18, 29), SIX),
    Date.UTC(2025, 0, 1, 0, 30),
  );
});

Deno.test("nextIstTime() returns the instant itself when it is exactly the time", () => {
  const six = Date.UTC(2024, 2, 12, 0, 30);
  assert.equal(nextIstTime(six, SIX), six);
  assert.equal(nextIstTime(six + 1, SIX), six + 24 * 3_600_000);
});

Deno.test("nextIstTime() lands on the wanted IST wall time within a day after any instant", () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 4_102_444_800_000 }),
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    (after, hour, minute) => {
      const at = nextIstTime(after, { hour, minute });
      const wall = new Date(at + IST_OFFSET_MS);
      return at >= after && at - after < 86_400_000 && wall.getUTCHours() === hour &&
        wall.getUTCMinutes() === minute && wall.getUTCSeconds() === 0 &&
        wall.getUTCMilliseconds() === 0;
    },
  ));
});

Deno.test("parseTimeOfDay() reads HH:MM and formatTimeOfDay() writes it back", () => {
  assert.deepEqual(parseTimeOfDay("06:00"), SIX);
  assert.deepEqual(parseTimeOfDay(" 23:59 "), { hour: 23, minute: 59 });
  assert.equal(formatTimeOfDay(parseTimeOfDay("07:05")), "07:05");
  assert.equal(formatTimeOfDay(parseTimeOfDay("7:30")), "07:30");
});

Deno.test("parseTimeOfDay() rejects what is not a 24-hour HH:MM", () => {
  for (const text of ["24:00", "12:60", "0600", "", "06:00:00", "ab:cd", "123:00", "6:0"]) {
    assert.throws(() => parseTimeOfDay(text), SyntaxError, text);
  }
});

Deno.test("istDate() turns at IST midnight, 18:30 UTC", () => {
  assert.equal(istDate(Date.UTC(2026, 0, 25, 18, 29, 59, 999)), "2026-01-25");
  assert.equal(istDate(Date.UTC(2026, 0, 25, 18, 30)), "2026-01-26");
});

Deno.test("istWallClock() and parseIstWallClock() are Kite's login_time, both ways", () => {
  const at = Date.UTC(2026, 0, 5, 3, 45, 7);
  assert.equal(istWallClock(at), "2026-01-05 09:15:07");
  assert.equal(parseIstWallClock("2026-01-05 09:15:07"), at);
  assert.ok(Number.isNaN(parseIstWallClock("yesterday")));
});

Deno.test("isCalendarDate() knows real days only", () => {
  assert.ok(isCalendarDate("2028-02-29"));
  for (const text of ["2026-02-29", "2026-13-01", "2026-1-05", "05-01-2026"]) {
    assert.ok(!isCalendarDate(text), text);
  }
});
