import assert from "node:assert/strict";
import { parseClientRequest } from "../../../src/endpoint/client_request.ts";

Deno.test("parseClientRequest() reads Kite's three requests", () => {
  assert.deepEqual(parseClientRequest('{"a":"subscribe","v":[256265,408065]}'), {
    kind: "subscribe",
    tokens: [256265, 408065],
    skipped: 0,
  });
  assert.deepEqual(parseClientRequest('{"a":"unsubscribe","v":[1]}'), {
    kind: "unsubscribe",
    tokens: [1],
    skipped: 0,
  });
  assert.deepEqual(parseClientRequest('{"a":"mode","v":["full",[1,"x",-2]]}'), {
    kind: "mode",
    mode: "full",
    tokens: [1],
    skipped: 2,
  });
});

Deno.test("parseClientRequest() reads kitekeeper's opt-in and refuses unknown options", () => {
  const request = parseClientRequest('{"a":"kitekeeper","v":["notices"]}');
  assert.equal(request.kind, "kitekeeper");
  assert.deepEqual(request.kind === "kitekeeper" ? [...request.options] : [], ["notices"]);
  assert.match(
    (parseClientRequest('{"a":"kitekeeper","v":["gossip"]}') as { error: string }).error,
    /unknown option "gossip"/,
  );
});

Deno.test("parseClientRequest() names what is wrong, briefly", () => {
  const cases: [string, RegExp][] = [
    ["{oops", /not JSON/],
    ["[1,2]", /expected an object/],
    ['{"a":"subscribe","v":5}', /list of tokens/],
    ['{"a":"mode","v":["fast",[1]]}', /ltp\|quote\|full/],
    [`{"a":"${"x".repeat(500)}"}`, /unknown action "x{40}"; expected/],
    ['{"v":[1]}', /unknown action undefined/],
  ];
  for (const [text, error] of cases) {
    const request = parseClientRequest(text);
    assert.equal(request.kind, "invalid", text);
    assert.match(request.kind === "invalid" ? request.error : "", error);
  }
});
