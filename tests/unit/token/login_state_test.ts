import assert from "node:assert/strict";
import { createLoginStates } from "../../../src/token/login_state.ts";

Deno.test("createLoginStates() accepts a fresh state once, then says reused", async () => {
  const states = await createLoginStates();
  const state = await states.issue();
  assert.equal(await states.consume(state), "ok");
  assert.equal(await states.consume(state), "reused");
});

Deno.test("createLoginStates() refuses a missing, malformed or re-signed state", async () => {
  const states = await createLoginStates();
  const state = await states.issue();
  assert.equal(await states.consume(undefined), "missing");
  assert.equal(await states.consume(""), "missing");
  assert.equal(await states.consume("nonsense"), "forged");
  const [nonce, issuedAt, mac] = state.split(".");
  assert.equal(await states.consume(`${nonce}.${Number(issuedAt) + 1}.${mac}`), "forged");
  const flipped = mac!.slice(0, -1) + (mac!.endsWith("0") ? "1" : "0");
  assert.equal(await states.consume(`${nonce}.${issuedAt}.${flipped}`), "forged");
  // A state signed by another process's key is forged here.
  const other = await createLoginStates();
  assert.equal(await states.consume(await other.issue()), "forged");
  // The genuine one still works after all that.
  assert.equal(await states.consume(state), "ok");
});

Deno.test("createLoginStates() expires a state after its ttl on the injected clock", async () => {
  let now = 1_000_000;
  const states = await createLoginStates({ now: () => now, ttlMs: 600_000 });
  const early = await states.issue();
  const late = await states.issue();
  now += 599_999;
  assert.equal(await states.consume(early), "ok");
  now += 1;
  assert.equal(await states.consume(late), "expired");
});
