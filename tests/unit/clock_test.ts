import assert from "node:assert/strict";
import { systemClock } from "../../src/clock.ts";

Deno.test("systemClock() runs a real timer and cancels another", async () => {
  const clock = systemClock();
  const before = clock.now();
  let cancelledFired = false;
  const cancelled = clock.setTimeout(() => cancelledFired = true, 0);
  clock.clearTimeout(cancelled);
  await new Promise<void>((resolve) => clock.setTimeout(resolve, 1));
  assert.equal(cancelledFired, false);
  assert.ok(clock.now() >= before);
});

Deno.test("systemClock() runs a timer due now after the current task, and cancels one", async () => {
  const clock = systemClock();
  const order: string[] = [];
  const cancelled = clock.setTimeout(() => order.push("cancelled"), 0);
  const fired = new Promise<void>((resolve) =>
    clock.setTimeout(() => {
      order.push("due now");
      resolve();
    }, 0)
  );
  clock.setTimeout(() => order.push("negative"), -5);
  clock.clearTimeout(cancelled);
  order.push("same task");
  await fired;
  await new Promise<void>((resolve) => clock.setTimeout(resolve, 1));
  assert.deepEqual(order, ["same task", "due now", "negative"]);
});
