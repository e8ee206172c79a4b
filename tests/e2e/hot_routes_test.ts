import assert from "node:assert/strict";
import { startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

const HEADERS = [
  "content-type",
  "cache-control",
  "x-content-type-options",
  "referrer-policy",
  "content-length",
] as const;

/** The answer's parts that must agree; the open gap's seconds grow as time passes. */
async function answer(response: Response) {
  const text = await response.text();
  const body = text === "" ? null : JSON.parse(text);
  if (body?.feed?.gaps_today !== undefined) delete body.feed.gaps_today;
  const headers = Object.fromEntries(HEADERS.map((name) => [name, response.headers.get(name)]));
  return { status: response.status, headers, body, bytes: new TextEncoder().encode(text).length };
}

Deno.test("the polled routes answer over the socket exactly as the app does", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}\r\n`, {
    append: true,
  });
  await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  // Ticks keep arriving: stop them so both answers read the same feed.
  await daemon.actor.stop();
  for (const path of ["/status", "/livez", "/quotes"]) {
    for (const method of ["GET", "HEAD"]) {
      const app = await answer(await daemon.app.request(path, { method }));
      const served = await answer(await fetch(`${daemon.url}${path}`, { method }));
      // The app leaves content-length to the server; the server sets it on both.
      assert.deepEqual({
        ...served,
        bytes: 0,
        headers: { ...served.headers, "content-length": null },
      }, {
        ...app,
        bytes: 0,
        headers: { ...app.headers, "content-length": null },
      }, `${method} ${path}`);
      assert.equal(served.headers["cache-control"], "no-store");
      assert.equal(served.headers["x-content-type-options"], "nosniff");
      if (method === "GET") assert.equal(Number(served.headers["content-length"]), served.bytes);
    }
  }
  // What the fast path does not take still reaches the app: 405, query strings, the limits.
  const post = await fetch(`${daemon.url}/status`, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
  const query = await fetch(`${daemon.url}/livez?probe=1`);
  assert.deepEqual(await query.json(), { ok: true });
  const headers = new Headers();
  for (let i = 0; i < 120; i++) headers.set(`x-h${i}`, "1");
  const crowded = await fetch(`${daemon.url}/livez`, { headers });
  assert.equal(crowded.status, 431);
  await crowded.body?.cancel();
});

Deno.test("with an admin token, /status and /quotes stay behind it; /livez stays open", async () => {
  const adminToken = "an-admin-token-long-enough-0123";
  await using h = await startHarness({ config: { adminToken } });
  const { daemon } = h;
  for (const path of ["/status", "/quotes"]) {
    const refused = await fetch(`${daemon.url}${path}`);
    assert.equal(refused.status, 401, path);
    await refused.body?.cancel();
    const allowed = await fetch(`${daemon.url}${path}`, {
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    assert.notEqual(allowed.status, 401, path);
    await allowed.body?.cancel();
  }
  const livez = await fetch(`${daemon.url}/livez`);
  assert.equal(livez.status, 200);
  await livez.body?.cancel();
});
