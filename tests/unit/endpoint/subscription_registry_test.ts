import assert from "node:assert/strict";
import type { Mode } from "../../../src/kite/packets.ts";
import { SubscriptionRegistry } from "../../../src/endpoint/subscription_registry.ts";

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

Deno.test("subscribe() holds instruments in quote mode, as Kite does", () => {
  const registry = new SubscriptionRegistry();
  assert.deepEqual(registry.subscribe(1, [10, 11, 10]), { accepted: [10, 11], refused: [] });
  assert.deepEqual([...registry.modesOf(1)], [[10, "quote"], [11, "quote"]]);
  assert.deepEqual([...registry.wanted()], [[10, "quote"], [11, "quote"]]);
});

Deno.test("the union takes the highest mode any client wants, and drops when it leaves", () => {
  const registry = new SubscriptionRegistry();
  registry.subscribe(1, [10]);
  registry.subscribe(2, [10]);
  registry.setMode(1, "ltp", [10]);
  registry.setMode(2, "full", [10]);
  assert.equal(registry.wanted().get(10), "full");
  registry.remove(2);
  assert.equal(registry.wanted().get(10), "ltp");
  assert.equal(registry.subscriptions, 1);
  registry.unsubscribe(1, [10]);
  assert.equal(registry.wanted().has(10), false);
  assert.equal(registry.size, 0);
  assert.equal(registry.subscriptions, 0);
});

Deno.test("configured instruments stay in the union at their mode or higher", () => {
  const registry = new SubscriptionRegistry({ base: new Map<number, Mode>([[10, "quote"]]) });
  assert.equal(registry.size, 1);
  registry.subscribe(1, [10, 11]);
  registry.setMode(1, "ltp", [10]);
  assert.equal(registry.wanted().get(10), "quote");
  registry.setMode(1, "full", [10]);
  assert.equal(registry.wanted().get(10), "full");
  registry.remove(1);
  assert.deepEqual([...registry.wanted()], [[10, "quote"]]);
  assert.equal(registry.size, 1);
});

Deno.test("setMode() ignores instruments the client does not hold; resubscribing keeps the mode", () => {
  const registry = new SubscriptionRegistry();
  registry.subscribe(1, [10]);
  assert.deepEqual(registry.setMode(1, "full", [10, 11]), [10]);
  assert.deepEqual(registry.setMode(1, "full", [10]), []);
  registry.subscribe(1, [10]);
  assert.equal(registry.modesOf(1).get(10), "full");
  assert.deepEqual(registry.setMode(2, "full", [10]), []);
  assert.deepEqual(registry.unsubscribe(2, [10]), []);
});

Deno.test("past the limit the asking client is refused the excess; the others keep working", () => {
  const registry = new SubscriptionRegistry({ limit: 9000 });
  assert.deepEqual(registry.subscribe(1, range(1, 8000)).refused, []);
  const result = registry.subscribe(2, range(7001, 2001));
  assert.deepEqual(result.refused, [9001]);
  assert.equal(result.accepted.length, 2000);
  assert.equal(registry.size, 9000);
  // What the union already holds is always accepted, even when full.
  assert.deepEqual(registry.subscribe(3, [1, 9000]).refused, []);
  registry.unsubscribe(1, [1, 2]);
  assert.deepEqual(registry.subscribe(2, [9001]).refused, []);
  assert.equal(registry.size, 9000);
});
