/**
 * The fault matrix, floods: `GET /api/auth/login` needs no credentials, so a flood of it must
 * cost neither memory nor time. Real daemon, real sockets.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startHarness } from "../../src/testing/daemon_harness.ts";
import { createLoginStates } from "../../src/token/login_state.ts";
import { report, since } from "../_support/fault_fixture.ts";

Deno.test("fault: a flood of GET /api/auth/login → 429 past the burst, the daemon serves", async () => {
  await using h = await startHarness({ dirPrefix: "kitekeeper_fault_" });
  const start = performance.now();
  const statuses: number[] = [];
  for (let n = 0; n < 60; n++) {
    const response = await fetch(`${h.daemon.url}/api/auth/login`, { redirect: "manual" });
    await response.body?.cancel();
    statuses.push(response.status);
    if (response.status === 429) assert.match(response.headers.get("retry-after") ?? "", /^\d+$/);
  }
  report("login flood", "60 logins from one peer", since(start));
  const redirected = statuses.filter((status) => status === 302).length;
  assert.ok(redirected >= 30 && redirected < 60, `30 and a few refills served, got ${redirected}`);
  assert.equal(statuses.at(-1), 429);
  const livez = await fetch(`${h.daemon.url}/livez`);
  await livez.body?.cancel();
  assert.equal(livez.status, 200);
});

Deno.test("createLoginStates() keeps nothing per issue, and at most maxUsed used states", async () => {
  let now = 1_000_000;
  const states = await createLoginStates({ now: () => now, ttlMs: 60_000, maxUsed: 3 });
  // Issuing stores nothing: 10 000 states, and each is still accepted once.
  const issued: string[] = [];
  for (let n = 0; n < 10_000; n++) issued.push(await states.issue());
  assert.equal(await states.consume(issued[9_999]), "ok");
  assert.equal(await states.consume(issued[9_999]), "reused");
  for (const state of issued.slice(0, 3)) assert.equal(await states.consume(state), "ok");
  // Past maxUsed (3) the oldest use is forgotten, but expiry still refuses it after the ttl.
  now += 60_000;
  assert.equal(await states.consume(issued[0]), "expired");
});
