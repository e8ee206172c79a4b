import assert from "node:assert/strict";
import { FakeClock } from "../../../src/testing/fake_clock.ts";

Deno.test("FakeClock.tick() fires due timers earliest first, each at its due time", () => {
  const clock = new FakeClock(1_000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`c@${clock.now()}`), 300);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
  clock.setTimeout(() => fired.push(`late@${clock.now()}`), 301);
  clock.tick(300);
  assert.deepEqual(fired, ["a@1100", "b@1200", "c@1300"]);
  assert.equal(clock.now(), 1_300);
  assert.equal(clock.pending, 1);
});

Deno.test("FakeClock.tick() fires timers due at the same time in the order they were set", () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  for (const n of [1, 2, 3]) clock.setTimeout(() => fired.push(n), 50);
  clock.tick(50);
  assert.deepEqual(fired, [1, 2, 3]);
});

Deno.test("FakeClock.tick() fires a timer set by a callback when it falls due in the same tick", () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  clock.setTimeout(() => {
    fired.push(clock.now());
    clock.setTimeout(() => fired.push(clock.now()), 40);
    clock.setTimeout(() => fired.push(clock.now()), 500);
  }, 10);
  clock.tick(100);
  assert.deepEqual(fired, [10, 50]);
  assert.equal(clock.pending, 1);
  assert.equal(clock.nextDue, 510);
});

Deno.test("FakeClock.clearTimeout() cancels a pending timer and ignores unknown ids", () => {
  const clock = new FakeClock();
  let fired = 0;
  const id = clock.setTimeout(() => fired++, 10);
  clock.clearTimeout(id);
  clock.clearTimeout(12345);
  clock.tick(1_000);
  assert.equal(fired, 0);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.next() jumps to the earliest timer and reports whether one fired", () => {
  const clock = new FakeClock(5);
  let fired = 0;
  clock.setTimeout(() => fired++, 7_000);
  assert.equal(clock.next(), true);
  assert.equal(clock.now(), 7_005);
  assert.equal(fired, 1);
  assert.equal(clock.next(), false);
});

Deno.test("FakeClock treats a negative delay as zero and refuses to go back in time", () => {
  const clock = new FakeClock(100);
  let at = -1;
  clock.setTimeout(() => at = clock.now(), -50);
  clock.tick(0);
  assert.equal(at, 100);
  assert.throws(() => clock.tick(-1), RangeError);
});
