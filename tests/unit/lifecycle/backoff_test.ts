import assert from "node:assert/strict";
import fc from "fast-check";
import { backoffDelay } from "../../../src/lifecycle/backoff.ts";

Deno.test("backoffDelay() doubles the ceiling from the 250 ms base up to the 30 s cap", () => {
  const ceilings = [1, 2, 3, 4, 8, 9, 50].map((attempt) =>
    backoffDelay(attempt, { random: 0.999999 }) + 1
  );
  assert.deepEqual(ceilings, [250, 500, 1_000, 2_000, 30_000, 30_000, 30_000]);
});

Deno.test("backoffDelay() scales the ceiling by the random draw (full jitter)", () => {
  assert.equal(backoffDelay(1, { random: 0 }), 0);
  assert.equal(backoffDelay(1, { random: 0.5 }), 125);
  assert.equal(backoffDelay(3, { random: 0.25, baseMs: 100, capMs: 1_000 }), 100);
  assert.equal(backoffDelay(10, { random: 0.5, baseMs: 100, capMs: 1_000 }), 500);
});

Deno.test("backoffDelay() stays finite and within [0, min(cap, base·2^(n−1))) for any draw", () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 10_000 }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    fc.integer({ min: 1, max: 5_000 }),
    fc.integer({ min: 1, max: 100_000 }),
    (attempt, random, baseMs, capMs) => {
      const ms = backoffDelay(attempt, { random, baseMs, capMs });
      const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 52));
      return Number.isInteger(ms) && ms >= 0 && ms < ceiling;
    },
  ));
});

Deno.test("backoffDelay() rejects an attempt below 1 and a draw outside [0, 1)", () => {
  assert.throws(() => backoffDelay(0, { random: 0.5 }), RangeError);
  assert.throws(() => backoffDelay(1.5, { random: 0.5 }), RangeError);
  assert.throws(() => backoffDelay(1, { random: 1 }), RangeError);
  assert.throws(() => backoffDelay(1, { random: Number.NaN }), RangeError);
});
