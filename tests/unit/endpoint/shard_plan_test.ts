import assert from "node:assert/strict";
import fc from "fast-check";
import type { Mode } from "../../../src/kite/packets.ts";
import { planShards, samePlans, type ShardPlan } from "../../../src/endpoint/shard_plan.ts";

function wantedOf(tokens: Iterable<number>, mode: Mode = "quote"): Map<number, Mode> {
  return new Map([...tokens].map((token) => [token, mode]));
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

function sizes(plan: readonly ShardPlan[]): number[] {
  return plan.map((shard) => shard.instruments.size);
}

Deno.test("planShards() fills shard 0 before opening another: 5000 instruments take 2", () => {
  assert.deepEqual(sizes(planShards([], wantedOf(range(1, 3000)))), [3000]);
  assert.deepEqual(sizes(planShards([], wantedOf(range(1, 5000)))), [3000, 2000]);
  assert.deepEqual(sizes(planShards([], wantedOf(range(1, 9000)))), [3000, 3000, 3000]);
});

Deno.test("planShards() keeps shard 0 even with nothing wanted", () => {
  assert.deepEqual(sizes(planShards([], new Map())), [0]);
});

Deno.test("planShards() refuses more than the shards hold", () => {
  assert.throws(() => planShards([], wantedOf(range(1, 9001))), RangeError);
});

Deno.test("planShards() leaves instruments on their shard and puts new ones on the least loaded", () => {
  const first = planShards([], wantedOf(range(1, 5000)));
  // 100 instruments leave shard 0 (2900 left); the least loaded shard (1, with 2000) takes
  // all 150 new ones.
  const kept = range(101, 4900);
  const next = planShards(first, wantedOf([...kept, ...range(10_001, 150)]));
  assert.deepEqual(sizes(next), [2900, 2150]);
  for (const token of range(101, 2900)) assert.ok(next[0]?.instruments.has(token));
  for (const token of range(3001, 2000)) assert.ok(next[1]?.instruments.has(token));
});

Deno.test("planShards() keeps an emptied middle shard and drops an emptied last one", () => {
  const first = planShards([], wantedOf(range(1, 7000)));
  assert.deepEqual(sizes(first), [3000, 3000, 1000]);
  const middleGone = planShards(first, wantedOf([...range(1, 3000), ...range(6001, 1000)]));
  assert.deepEqual(sizes(middleGone), [3000, 0, 1000]);
  const lastGone = planShards(middleGone, wantedOf(range(1, 3000)));
  assert.deepEqual(sizes(lastGone), [3000]);
});

Deno.test("planShards() follows the wanted mode of an instrument it keeps", () => {
  const first = planShards([], wantedOf([1, 2], "full"));
  const next = planShards(first, new Map<number, Mode>([[1, "ltp"], [2, "full"]]));
  assert.equal(next[0]?.instruments.get(1), "ltp");
  assert.equal(samePlans(first, next), false);
  assert.equal(
    samePlans(next, planShards(next, new Map<number, Mode>(next[0]!.instruments))),
    true,
  );
});

Deno.test("planShards() holds every wanted instrument once, within the limits, moving none", () => {
  const tokenSets = fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 400 }), { maxLength: 300 }), {
    minLength: 1,
    maxLength: 8,
  });
  fc.assert(fc.property(tokenSets, (steps) => {
    let plan: ShardPlan[] = [];
    for (const tokens of steps) {
      const next = planShards(plan, wantedOf(tokens), { maxShards: 3, perShard: 100 });
      const where = new Map<number, number>();
      next.forEach((shard, i) => {
        assert.ok(shard.instruments.size <= 100);
        for (const token of shard.instruments.keys()) {
          assert.equal(where.has(token), false, `token ${token} on two shards`);
          where.set(token, i);
        }
      });
      assert.deepEqual(new Set(where.keys()), new Set(tokens));
      plan.forEach((shard, i) => {
        for (const token of shard.instruments.keys()) {
          if (where.has(token)) assert.equal(where.get(token), i, `token ${token} moved`);
        }
      });
      assert.ok(next.length >= 1 && next.length <= 3);
      assert.ok(next.length === 1 || (next.at(-1)?.instruments.size ?? 0) > 0);
      plan = next;
    }
  }));
});
