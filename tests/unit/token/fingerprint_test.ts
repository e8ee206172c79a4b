import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fingerprint } from "../../../src/token/fingerprint.ts";

Deno.test("fingerprint() is the first 12 hex digits of the token's SHA-256", () => {
  const token = "abcdefghijklmnopqrstuvwxyz012345";
  const expected = createHash("sha256").update(token).digest("hex").slice(0, 12);
  assert.equal(fingerprint(token), expected);
  assert.match(fingerprint(""), /^[0-9a-f]{12}$/);
});

Deno.test("fingerprint() tells tokens apart and never contains the token", () => {
  const a = fingerprint("tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  const b = fingerprint("tokenAAAAAAAAAAAAAAAAAAAAAAAAAAB");
  assert.notEqual(a, b);
  assert.equal(a, fingerprint("tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  assert.ok(!"tokenAAAAAAAAAAAAAAAAAAAAAAAAAAA".includes(a));
});
