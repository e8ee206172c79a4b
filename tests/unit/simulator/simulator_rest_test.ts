import assert from "node:assert/strict";
import { KiteConnect } from "kiteconnect";
import { REQUEST_TOKEN_TTL_MS } from "../../../src/simulator/session_store.ts";
import type { Simulator } from "../../../src/simulator/simulator.ts";
import {
  control,
  CREDENTIALS,
  hiddenField,
  loginRedirect,
  requestToken,
  withSimulator,
} from "../../_support/sim_fixture.ts";
import { sessionChecksum } from "../../../src/kite/checksum.ts";

/** Zerodha's fixtures, copied into the repository with their sources (see its README). */
const FIXTURES = new URL("../../fixtures/kite/", import.meta.url);

function client(
  sim: Simulator,
  options: { accessToken?: string } = {},
): InstanceType<typeof KiteConnect> {
  return new KiteConnect({
    api_key: CREDENTIALS.apiKey,
    root: sim.url,
    ...(options.accessToken === undefined ? {} : { access_token: options.accessToken }),
  });
}

/** The client rejects with Kite's error body; returns it. */
async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error: unknown) {
    return error as Record<string, unknown>;
  }
  throw new assert.AssertionError({ message: "Expected the call to reject" });
}

Deno.test("generateSession() with a request token from the login form returns a live session", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    const session = await kc.generateSession(await requestToken(sim), CREDENTIALS.apiSecret);
    assert.equal(session.user_id, CREDENTIALS.userId);
    assert.equal(session.api_key, CREDENTIALS.apiKey);
    assert.match(session.access_token, /^[A-Za-z0-9]{32}$/);
    assert.notEqual(session.public_token, session.access_token);
    const profile = await kc.getProfile();
    assert.equal(profile.user_id, CREDENTIALS.userId);
  });
});

Deno.test("login_time is YYYY-MM-DD HH:MM:SS in IST from the injected clock", async () => {
  await withSimulator(async (sim, clock) => {
    const token = await requestToken(sim);
    const checksum = sessionChecksum(token, CREDENTIALS);
    const response = await fetch(`${sim.url}/session/token`, {
      method: "POST",
      headers: { "x-kite-version": "3" },
      body: new URLSearchParams({ api_key: CREDENTIALS.apiKey, request_token: token, checksum }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const body = await response.json();
    const expected = new Date(clock.now() + 330 * 60 * 1000).toISOString().slice(0, 19)
      .replace("T", " ");
    assert.equal(body.status, "success");
    assert.equal(body.data.login_time, expected);
  });
});

Deno.test({
  name: "session and profile bodies carry every field of Zerodha's fixtures",
  fn: async () => {
    await withSimulator(async (sim) => {
      const fixture = async (name: string) =>
        JSON.parse(await Deno.readTextFile(new URL(name, FIXTURES))).data;
      const kc = client(sim);
      const session = await kc.generateSession(await requestToken(sim), CREDENTIALS.apiSecret);
      const profile = await kc.getProfile();
      for (const [body, name] of [[session, "generate_session.json"], [profile, "profile.json"]]) {
        const expected = Object.keys(await fixture(name as string)).sort();
        const missing = expected.filter((key) => !(key in (body as object)));
        assert.deepEqual(missing, [], `${name}: missing ${missing}`);
      }
      assert.deepEqual(
        Object.keys(profile).sort(),
        Object.keys(await fixture("profile.json")).sort(),
      );
    });
  },
});

Deno.test("invalidateAccessToken() kills the token: getProfile() then rejects with TokenException", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    await kc.generateSession(await requestToken(sim), CREDENTIALS.apiSecret);
    assert.equal(await kc.invalidateAccessToken(), true);
    const error = await rejection(kc.getProfile());
    assert.equal(error["error_type"], "TokenException");
    assert.equal(error["status"], "error");
  });
});

Deno.test("getProfile() with an unknown token rejects with TokenException and HTTP 403", async () => {
  await withSimulator(async (sim) => {
    const error = await rejection(client(sim, { accessToken: "a".repeat(32) }).getProfile());
    assert.equal(error["error_type"], "TokenException");
    const response = await fetch(`${sim.url}/user/profile`, {
      headers: { authorization: `token ${CREDENTIALS.apiKey}:${"a".repeat(32)}` },
    });
    assert.equal(response.status, 403);
    assert.equal((await response.json()).message, "Incorrect `api_key` or `access_token`.");
  });
});

Deno.test("a bad checksum is refused with TokenException and leaves the request token usable", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    const token = await requestToken(sim);
    const error = await rejection(kc.generateSession(token, "wrong secret"));
    assert.equal(error["error_type"], "TokenException");
    const session = await kc.generateSession(token, CREDENTIALS.apiSecret);
    assert.equal(session.user_id, CREDENTIALS.userId);
  });
});

Deno.test("a request token is single use", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    const token = await requestToken(sim);
    await kc.generateSession(token, CREDENTIALS.apiSecret);
    const error = await rejection(kc.generateSession(token, CREDENTIALS.apiSecret));
    assert.equal(error["error_type"], "TokenException");
    assert.equal(error["message"], "Token is invalid or has expired.");
  });
});

Deno.test("a request token expires after 5 minutes of the injected clock", async () => {
  await withSimulator(async (sim, clock) => {
    const kc = client(sim);
    const fresh = await requestToken(sim);
    const stale = await requestToken(sim);
    clock.tick(REQUEST_TOKEN_TTL_MS);
    assert.equal((await kc.generateSession(fresh, CREDENTIALS.apiSecret)).user_id, "AB1234");
    clock.tick(1);
    const error = await rejection(kc.generateSession(stale, CREDENTIALS.apiSecret));
    assert.equal(error["error_type"], "TokenException");
    const response = await fetch(`${sim.url}/session/token`, {
      method: "POST",
      body: new URLSearchParams({
        api_key: CREDENTIALS.apiKey,
        request_token: stale,
        checksum: sessionChecksum(stale, CREDENTIALS),
      }),
    });
    assert.equal(response.status, 403);
    await response.body?.cancel();
  });
});

Deno.test("missing fields are refused with InputException and HTTP 400", async () => {
  await withSimulator(async (sim) => {
    const error = await rejection(client(sim).generateSession("", CREDENTIALS.apiSecret));
    assert.equal(error["error_type"], "InputException");
    for (const body of ["", "api_key=simkey0123", "api_key=simkey0123&request_token=x"]) {
      const response = await fetch(`${sim.url}/session/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
      });
      assert.equal(response.status, 400, body);
      assert.equal((await response.json()).error_type, "InputException");
    }
    const logout = await fetch(`${sim.url}/session/token?api_key=${CREDENTIALS.apiKey}`, {
      method: "DELETE",
    });
    assert.equal(logout.status, 400);
    await logout.body?.cancel();
  });
});

Deno.test("the login redirect carries Kite's parameters and then the decoded redirect_params", async () => {
  await withSimulator(async (sim) => {
    const location = await loginRedirect(sim, { redirectParams: "state=abc&x=1" });
    assert.equal(location.origin + location.pathname, CREDENTIALS.redirectUrl);
    const params = [...location.searchParams.keys()];
    assert.deepEqual(params, ["action", "type", "status", "request_token", "state", "x"]);
    assert.equal(location.searchParams.get("action"), "login");
    assert.equal(location.searchParams.get("type"), "login");
    assert.equal(location.searchParams.get("status"), "success");
    assert.match(location.searchParams.get("request_token") ?? "", /^[A-Za-z0-9]{32}$/);
    assert.equal(location.searchParams.get("state"), "abc");
    assert.equal(location.searchParams.get("x"), "1");
  });
});

Deno.test("the login form escapes what it echoes and shows an error for a wrong password", async () => {
  await withSimulator(async (sim) => {
    const hostile = `"><script>alert(1)</script>`;
    const query = new URLSearchParams({
      v: "3",
      api_key: CREDENTIALS.apiKey,
      redirect_params: hostile,
    });
    const page = await (await fetch(`${sim.url}/connect/login?${query}`)).text();
    assert.ok(!page.includes("<script>"), "unescaped markup in the page");
    assert.equal(hiddenField(page, "redirect_params"), hostile);
    const response = await fetch(`${sim.url}/connect/login`, {
      method: "POST",
      body: new URLSearchParams({
        api_key: CREDENTIALS.apiKey,
        user_id: `<b>${CREDENTIALS.userId}</b>`,
        password: "wrong",
        redirect_params: "",
      }),
      redirect: "manual",
    });
    assert.equal(response.status, 200);
    const again = await response.text();
    assert.match(again, /Invalid `user_id` or `password`/);
    assert.ok(!again.includes("<b>"));
  });
});

Deno.test("the login form answers an unknown api_key with 400", async () => {
  await withSimulator(async (sim) => {
    const get = await fetch(`${sim.url}/connect/login?v=3&api_key=nope`);
    assert.equal(get.status, 400);
    await get.body?.cancel();
    const post = await fetch(`${sim.url}/connect/login`, {
      method: "POST",
      body: new URLSearchParams({ api_key: "nope", user_id: "AB1234", password: "x" }),
      redirect: "manual",
    });
    assert.equal(post.status, 400);
    await post.body?.cancel();
  });
});

Deno.test("/_sim/session issues a token the official client can use; /_sim/expire kills it", async () => {
  await withSimulator(async (sim) => {
    const body = await control(sim, "session");
    const token = body["access_token"];
    assert.ok(typeof token === "string" && /^[A-Za-z0-9]{32}$/.test(token));
    const kc = client(sim, { accessToken: token });
    assert.equal((await kc.getProfile()).user_id, CREDENTIALS.userId);
    await control(sim, "expire");
    assert.equal((await rejection(kc.getProfile()))["error_type"], "TokenException");
  });
});

/** Kite's error types with the status each comes with (Kite's docs, pykiteconnect). */
const ERRORS = [
  ["TokenException", 403],
  ["PermissionException", 403],
  ["InputException", 400],
  ["NetworkException", 503],
  ["DataException", 502],
  ["GeneralException", 500],
  ["NetworkException", 429],
] as const;

Deno.test("/_sim/reject target=rest: the next REST call fails with each documented error type and status", async () => {
  await withSimulator(async (sim) => {
    const token = sim.issueAccessToken();
    const kc = client(sim, { accessToken: token });
    for (const [type, status] of ERRORS) {
      await control(sim, `reject?target=rest&error_type=${type}&status=${status}`);
      const error = await rejection(kc.getProfile());
      assert.equal(error["error_type"], type, `${type} ${status}`);
      assert.equal(error["status"], "error");
      await control(sim, `reject?target=rest&error_type=${type}&status=${status}`);
      const response = await fetch(`${sim.url}/user/profile`, {
        headers: { authorization: `token ${CREDENTIALS.apiKey}:${token}` },
      });
      assert.equal(response.status, status, type);
      assert.equal((await response.json()).error_type, type);
    }
    // Used up: the token was valid all along.
    assert.equal((await kc.getProfile()).user_id, CREDENTIALS.userId);
  });
});

Deno.test("/_sim/reject target=rest count=2 fails two calls, whatever the route, then lets them through", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    await control(sim, "reject?target=rest&error_type=NetworkException&count=2");
    const rt = await requestToken(sim); // the login form is not the API: not counted
    assert.equal(
      (await rejection(kc.generateSession(rt, CREDENTIALS.apiSecret)))["error_type"],
      "NetworkException",
    );
    assert.equal((await rejection(kc.getProfile()))["error_type"], "NetworkException");
    const session = await kc.generateSession(rt, CREDENTIALS.apiSecret);
    assert.equal(session.user_id, CREDENTIALS.userId);
  });
});

Deno.test("a wrong method on a known route gets 405 with Kite's error body and Allow; an unknown route 404", async () => {
  await withSimulator(async (sim) => {
    const cases = [
      ["GET", "/session/token", "POST, DELETE"],
      ["PUT", "/session/token", "POST, DELETE"],
      ["POST", "/user/profile", "GET"],
      ["DELETE", "/user/profile", "GET"],
    ] as const;
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${sim.url}${path}`, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), allow);
      const body = await response.json();
      assert.equal(body.status, "error");
      assert.equal(body.error_type, "GeneralException");
    }
    const missing = await fetch(`${sim.url}/user/nothing`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error_type, "GeneralException");
  });
});

Deno.test("/_sim/stats counts REST calls by route, failures included", async () => {
  await withSimulator(async (sim) => {
    const kc = client(sim);
    await kc.generateSession(await requestToken(sim), CREDENTIALS.apiSecret);
    await kc.getProfile();
    await control(sim, "reject?target=rest&error_type=TokenException");
    await rejection(kc.getProfile());
    await (await fetch(`${sim.url}/user/profile`, { method: "POST" })).body?.cancel();
    const stats = await control(sim, "stats", { method: "GET" });
    assert.deepEqual(stats["rest_calls"], {
      "POST /session/token": 1,
      "GET /user/profile": 2,
      "POST /user/profile": 1,
    });
  });
});
