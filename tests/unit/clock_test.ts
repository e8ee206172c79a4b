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
