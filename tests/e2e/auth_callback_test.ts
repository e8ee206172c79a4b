import assert from "node:assert/strict";
import { parseEnv } from "../../src/token/env_file.ts";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { KITE, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

/** A callback URL carrying a genuine state from `/api/auth/login`, and the query given. */
async function callbackWith(daemonUrl: string, query: Record<string, string>): Promise<string> {
  const start = await fetch(`${daemonUrl}/api/auth/login`, { redirect: "manual" });
  await start.body?.cancel();
  const kite = new URL(start.headers.get("location")!);
  const state = new URLSearchParams(kite.searchParams.get("redirect_params")!).get("state")!;
  const params = new URLSearchParams({ action: "login", type: "login", state, ...query });
  return `${daemonUrl}/api/auth/callback?${params}`;
}

async function refusal(url: string): Promise<{ status: number; error: string; message: string }> {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json() as { error: string; message: string };
  return { status: response.status, ...body };
}

Deno.test("the callback refuses bad states and Kite's refusals, leaving .env byte-identical", async () => {
  await using h = await startHarness();
  const { daemon } = h;
  const before = await Deno.readFile(h.envFile);
  const base = `${daemon.url}/api/auth/callback?action=login&type=login&status=success`;

  const missing = await refusal(`${base}&request_token=abc`);
  assert.deepEqual([missing.status, missing.error], [400, "state_missing"]);

  const forged = await refusal(`${base}&request_token=abc&state=00.1.00`);
  assert.deepEqual([forged.status, forged.error], [400, "state_forged"]);

  const failed = await refusal(await callbackWith(daemon.url, { status: "cancelled" }));
  assert.deepEqual([failed.status, failed.error], [400, "login_not_successful"]);

  const bogus = await refusal(
    await callbackWith(daemon.url, { status: "success", request_token: "notarealtoken" }),
  );
  assert.deepEqual([bogus.status, bogus.error], [502, "exchange_failed"]);
  assert.match(bogus.message, /TokenException/);
  assert.ok(!bogus.message.includes("notarealtoken"), "the request_token is not echoed");

  // An HTML client gets a page naming the problem.
  const page = await fetch(`${base}&request_token=abc`);
  assert.equal(page.status, 400);
  assert.match(await page.text(), /login state is missing/);

  assert.deepEqual(await Deno.readFile(h.envFile), before);
  assert.equal(daemon.actor.snapshot().state.name, "Expired");
});

Deno.test("a login hands its token over before writing .env, and reading it back reopens nothing", async () => {
  await using h = await startHarness();
  const { daemon } = h;
  const before = await Deno.readTextFile(h.envFile);
  // What .env held at the moment the lifecycle took each new token.
  const heldWhenTaken: string[] = [];
  const unsubscribe = daemon.actor.subscribe((snapshot, previous) => {
    if (snapshot.token !== null && snapshot.token.token !== previous.token?.token) {
      heldWhenTaken.push(Deno.readTextFileSync(h.envFile));
    }
  });
  try {
    assert.equal((await driveLogin(daemon.url, KITE)).status, 302);
  } finally {
    unsubscribe();
  }
  const token = daemon.actor.snapshot().token;
  assert.equal(token?.source, "callback");
  assert.deepEqual(heldWhenTaken, [before], "the feed did not wait for the write");
  // The redirect waited for the write.
  assert.equal(parseEnv(await Deno.readTextFile(h.envFile))["KITE_ACCESS_TOKEN"], token?.token);
  await waitFor(daemon, "Live after login", (s) => s.state.name === "Live");
  const gen = daemon.actor.snapshot().gen;
  await daemon.reload();
  assert.equal(daemon.actor.snapshot().gen, gen, "the written token read back opens no socket");
  assert.equal(daemon.actor.snapshot().token?.source, "callback");
});

Deno.test("a replayed callback is refused as reused and changes nothing", async () => {
  await using h = await startHarness();
  const { daemon } = h;
  const login = await driveLogin(daemon.url, KITE);
  assert.equal(login.status, 302);
  await waitFor(daemon, "Live after login", (s) => s.state.name === "Live");
  const after = await Deno.readFile(h.envFile);
  const gen = daemon.actor.snapshot().gen;

  // Replay exactly what the browser was sent back with: the state is single use.
  const url = await callbackWith(daemon.url, { status: "success", request_token: "x" });
  const firstTry = await refusal(url);
  assert.equal(firstTry.status, 502);
  const replay = await refusal(url);
  assert.deepEqual([replay.status, replay.error], [400, "state_reused"]);
  assert.deepEqual(await Deno.readFile(h.envFile), after);
  assert.equal(daemon.actor.snapshot().gen, gen, "no new socket");
});

Deno.test("a session of another user than the pin is refused with 403 and .env untouched", async () => {
  await using h = await startHarness({ config: { userId: "ZZ9999" } });
  const before = await Deno.readFile(h.envFile);
  const login = await driveLogin(h.daemon.url, KITE);
  assert.equal(login.status, 403);
  assert.match(login.body, /pinned to ZZ9999/);
  assert.deepEqual(await Deno.readFile(h.envFile), before);
  assert.equal(h.daemon.actor.snapshot().state.name, "Expired");
  assert.equal(h.sim.stats().handshakes.accepted, 0);
});

Deno.test("/status is 503 with JSON until Live; /livez is 200 whatever the token", async () => {
  await using h = await startHarness();
  await waitFor(h.daemon, "Expired", (s) => s.state.name === "Expired");
  const status = await fetch(`${h.daemon.url}/status`);
  assert.equal(status.status, 503);
  assert.match(status.headers.get("content-type") ?? "", /application\/json/);
  const body = await status.json();
  for (const key of ["state", "since", "reason", "token", "feed", "connection", "login_url"]) {
    assert.ok(key in body, `status has ${key}`);
  }
  assert.equal(typeof body.pid, "number");
  assert.equal(body.version, "test");
  const livez = await fetch(`${h.daemon.url}/livez`);
  assert.equal(livez.status, 200);
  await livez.body?.cancel();
  const page = await fetch(`${h.daemon.url}/`);
  assert.match(await page.text(), /href="\/api\/auth\/login"/);
});
