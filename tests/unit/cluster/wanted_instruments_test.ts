import assert from "node:assert/strict";
import {
  formatWants,
  parseWants,
  unionWanted,
  wantedOf,
} from "../../../src/cluster/wanted_instruments.ts";

Deno.test("unionWanted() keeps each instrument at the highest mode any node wants", () => {
  const union = unionWanted([
    new Map([[1, "ltp"], [2, "full"]] as const),
    new Map([[1, "quote"], [3, "ltp"]] as const),
    new Map([[1, "ltp"], [2, "ltp"]] as const),
  ]);
  assert.deepEqual([...union].sort(), [[1, "quote"], [2, "full"], [3, "ltp"]]);
});

Deno.test("wantedOf() flattens a plan's shards", () => {
  const plan = [{ instruments: new Map([[1, "full"]] as const) }, {
    instruments: new Map([[2, "ltp"]] as const),
  }];
  assert.deepEqual([...wantedOf(plan)], [[1, "full"], [2, "ltp"]]);
});

Deno.test("parseWants(formatWants()) round-trips; malformed entries are null", () => {
  const wants = new Map([[408065, "full"], [256265, "quote"]] as const);
  assert.deepEqual(parseWants(formatWants(wants, 42)), { at: 42, wants });
  for (
    const bad of [
      "",
      "{",
      "[]",
      '{"at":1}',
      '{"at":1,"wants":[[1,"depth"]]}',
      '{"at":"1","wants":[]}',
    ]
  ) {
    assert.equal(parseWants(bad), null, bad);
  }
});
