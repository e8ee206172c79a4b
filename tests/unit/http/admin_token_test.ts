import assert from "node:assert/strict";
import { Hono } from "hono";
import { ConfigError, loadConfig } from "../../../src/config.ts";
import { adminToken } from "../../../src/http/admin_token.ts";

const FILE = { KITE_API_KEY: "k", KITE_API_SECRET: "s" };

function guarded(options: Parameters<typeof adminToken>[0]): Hono {
  const app = new Hono();
  app.use(adminToken(options));
  app.get("/open", (c) => c.text("open"));
  app.get("/closed", (c) => c.text("closed"));
  return app;
}

Deno.test("adminToken() passes the exact bearer, refuses anything else, and guards nothing when unset", async () => {
  const token = "0123456789abcdef0123456789abcdef";
  const app = guarded({ token, openPaths: ["/open"] });
  const ok = await app.request("/closed", { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(await ok.text(), "closed");
  for (const presented of [token.slice(0, -1), `${token}0`, token.replace("0", "O"), "x"]) {
    const refused = await app.request("/closed", {
      headers: { Authorization: `Bearer ${presented}` },
    });
    assert.equal(refused.status, 401, presented);
    await refused.body?.cancel();
  }
  assert.equal(await (await app.request("/open")).text(), "open");
  const unset = guarded({ openPaths: [] });
  assert.equal(await (await unset.request("/closed")).text(), "closed");
});

Deno.test("loadConfig() reads KITEKEEPER_ADMIN_TOKEN and refuses a short one without quoting it", () => {
  const token = "a-long-enough-admin-token";
  assert.equal(
    loadConfig(FILE, { env: { KITEKEEPER_ADMIN_TOKEN: ` ${token} ` }, envFile: "/x/.env" })
      .adminToken,
    token,
  );
  assert.equal(loadConfig(FILE, { env: {}, envFile: "/x/.env" }).adminToken, undefined);
  assert.equal(
    loadConfig({ ...FILE, KITEKEEPER_ADMIN_TOKEN: token }, { env: {}, envFile: "/x/.env" })
      .adminToken,
    token,
  );
  for (const weak of ["short", "has a space inside it"]) {
    assert.throws(
      () => loadConfig(FILE, { env: { KITEKEEPER_ADMIN_TOKEN: weak }, envFile: "/x/.env" }),
      (error: unknown) =>
        error instanceof ConfigError && /KITEKEEPER_ADMIN_TOKEN in the environment/.test(
          error.message,
        ) && !error.message.includes(weak),
    );
  }
});
