import assert from "node:assert/strict";
import { Hono } from "hono";
import { hotRoutes } from "../../../src/http/hot_routes.ts";
import type { StatusBody } from "../../../src/ops/status_body.ts";

const INFO = {} as Deno.ServeHandlerInfo;

/** A status body with what /status and /quotes read; `version` marks each computation. */
function statusOf(state: string, version: number): StatusBody {
  return {
    state,
    version: String(version),
    feed: { mode: "full", last_data_at: null, instruments: {} },
  } as unknown as StatusBody;
}

function fixture() {
  let now = 1000;
  let computed = 0;
  let state = "Live";
  const app = new Hono();
  app.all("*", (c) => c.text("app", 418));
  const hot = hotRoutes(app, {
    status: () => statusOf(state, ++computed),
    now: () => now,
  });
  const get = async (path: string) => {
    const response = await hot.fetch(new Request(`http://127.0.0.1${path}`), INFO);
    return { status: response.status, text: await response.text() };
  };
  return {
    hot,
    get,
    advance: (ms: number) => now += ms,
    setState: (name: string) => state = name,
    computed: () => computed,
  };
}

Deno.test("hotRoutes() keeps a body for 100 ms, then computes it again", async () => {
  const f = fixture();
  const first = await f.get("/status");
  assert.equal(first.status, 200);
  assert.equal(JSON.parse(first.text).version, "1");
  f.advance(99);
  assert.equal(JSON.parse((await f.get("/status")).text).version, "1");
  f.advance(1);
  assert.equal(JSON.parse((await f.get("/status")).text).version, "2");
  assert.equal(f.computed(), 2);
  // A clock that went back is no reason to keep a body.
  f.advance(-50);
  assert.equal(JSON.parse((await f.get("/status")).text).version, "3");
});

Deno.test("hotRoutes() computes again at once after invalidate(), and 503 unless Live", async () => {
  const f = fixture();
  assert.equal((await f.get("/status")).status, 200);
  f.setState("Expired");
  assert.equal((await f.get("/status")).status, 200);
  f.hot.invalidate();
  const expired = await f.get("/status");
  assert.equal(expired.status, 503);
  assert.equal(JSON.parse(expired.text).state, "Expired");
  assert.deepEqual(JSON.parse((await f.get("/quotes")).text), {
    state: "Expired",
    mode: "full",
    last_data_at: null,
    instruments: {},
  });
  assert.deepEqual(JSON.parse((await f.get("/livez")).text), { ok: true });
});

Deno.test("hotRoutes() hands other paths, methods and query strings to the app", async () => {
  const f = fixture();
  for (const path of ["/", "/status/", "/statusx", "/status?x=1", "/metrics", "/stream"]) {
    assert.deepEqual(await f.get(path), { status: 418, text: "app" }, path);
  }
  const post = await f.hot.fetch(new Request("http://127.0.0.1/status", { method: "POST" }), INFO);
  assert.equal(post.status, 418);
  await post.body?.cancel();
  assert.equal(f.computed(), 0);
});

Deno.test("hotRoutes() leaves the admin-guarded paths to the app when a token is set", async () => {
  const app = new Hono();
  app.all("*", (c) => c.text("app", 418));
  const hot = hotRoutes(app, {
    status: () => statusOf("Live", 1),
    now: () => 0,
    adminToken: "a-long-enough-admin-token",
  });
  for (const [path, status] of [["/status", 418], ["/quotes", 418], ["/livez", 200]] as const) {
    const response = await hot.fetch(new Request(`http://127.0.0.1${path}`), INFO);
    assert.equal(response.status, status, path);
    await response.body?.cancel();
  }
});
