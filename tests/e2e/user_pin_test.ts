import assert from "node:assert/strict";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { KITE, startHarness } from "../../src/testing/daemon_harness.ts";

/** Whether the simulated Kite still takes `token` (`GET /user/profile`). */
async function profileStatus(simUrl: string, token: string): Promise<number> {
  const response = await fetch(`${simUrl}/user/profile`, {
    headers: { "X-Kite-Version": "3", Authorization: `token ${KITE.apiKey}:${token}` },
  });
  await response.body?.cancel();
  return response.status;
}

async function simStats(simUrl: string): Promise<{ sessions_active: number }> {
  const response = await fetch(`${simUrl}/_sim/stats`);
  return await response.json() as { sessions_active: number };
}

Deno.test("/_sim/stats counts live sessions: a login adds one, a logout or an expiry removes them", async () => {
  await using h = await startHarness();
  assert.equal((await simStats(h.sim.url)).sessions_active, 0);
  const login = await driveLogin(h.daemon.url, KITE);
  assert.equal(login.status, 302);
  assert.equal((await simStats(h.sim.url)).sessions_active, 1, "the callback's session lives");
  const spare = h.sim.issueAccessToken();
  assert.equal(h.sim.stats().sessions_active, 2);
  const logout = await fetch(
    `${h.sim.url}/session/token?api_key=${KITE.apiKey}&access_token=${spare}`,
    { method: "DELETE" },
  );
  await logout.body?.cancel();
  assert.equal(h.sim.stats().sessions_active, 1);
  const expire = await fetch(`${h.sim.url}/_sim/expire`, { method: "POST" });
  await expire.body?.cancel();
  assert.equal(h.sim.stats().sessions_active, 0);
});

Deno.test("a session of another user than the pin is killed upstream; other sessions live on", async () => {
  await using h = await startHarness({ config: { userId: "ZZ9999" } });
  // A session that is none of this login's business must survive the refusal.
  const bystander = h.sim.issueAccessToken();
  assert.equal(h.sim.stats().sessions_active, 1);
  const before = await Deno.readFile(h.envFile);

  const login = await driveLogin(h.daemon.url, KITE);
  assert.equal(login.status, 403);
  assert.match(login.body, /Logged in as AB1234, but this kitekeeper is pinned to ZZ9999/);
  assert.match(login.body, /that session was invalidated/);

  // The exchange created a session (the 403 names its user); the refusal killed it again.
  assert.equal((await simStats(h.sim.url)).sessions_active, 1, "only the bystander is live");
  assert.equal(await profileStatus(h.sim.url, bystander), 200);
  assert.deepEqual(await Deno.readFile(h.envFile), before);
  assert.equal(h.sim.stats().handshakes.accepted + h.sim.stats().handshakes.rejected, 0);
});
