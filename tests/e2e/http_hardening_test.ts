import assert from "node:assert/strict";
import { DEFAULT_REQUEST_LIMITS } from "../../src/http/request_limits.ts";
import { startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

const ADMIN = "adm1n-t0ken-for-tests-0123456789";

function bearer(token: string): HeadersInit {
  return { Authorization: `Bearer ${token}` };
}

/** Status and body of an in-process request; the body is always read, so nothing leaks. */
async function ask(
  app: { request(input: string, init?: RequestInit): Response | Promise<Response> },
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await app.request(path, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Sends `head` over a raw TCP connection; returns the status line, or how the read failed. */
async function rawExchange(port: number, head: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(head));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16384);
    let text = "";
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    return text.split("\r\n")[0] || "closed without an answer";
  } catch (error: unknown) {
    return `failed: ${error instanceof Error ? error.name : String(error)}`;
  } finally {
    conn.close();
  }
}

/**
 * Asserts that `csp` lets `html` work as written and nothing more: nothing inline, scripts
 * and styles from this origin only when the policy says `'self'`, nothing embedded.
 */
function assertPolicyCovers(csp: string, html: string): void {
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline script");
  assert.doesNotMatch(html, /<style\b|\sstyle=/i, "no inline style");
  assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handler");
  assert.doesNotMatch(html, /<(img|iframe|object|embed|form|base)\b/i);
  const sources = [...html.matchAll(/<(script|link)\b[^>]*\b(?:src|href)="([^"]*)"/gi)];
  for (const [, tag, source] of sources) {
    assert.match(source!, /^\/[^/]/, `${tag} ${source} is from this origin`);
    const directive = tag!.toLowerCase() === "script" ? "script-src" : "style-src";
    assert.match(
      csp,
      new RegExp(`(^|; )${directive} 'self'(;|$)`),
      `${directive} allows ${source}`,
    );
  }
}

Deno.test("a method a route does not take is 405 with Allow; an unknown path stays 404", async () => {
  await using h = await startHarness();
  const { app } = h.daemon;

  const post = await ask(app, "/status", { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  assert.equal(JSON.parse(post.text).error, "method_not_allowed");

  for (
    const [method, path] of [["DELETE", "/livez"], ["PUT", "/"], ["POST", "/api/auth/callback"]]
  ) {
    const answer = await ask(app, path!, { method: method! });
    assert.equal(answer.status, 405, `${method} ${path}`);
    assert.equal(answer.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
  }
  const options = await ask(app, "/api/auth/login", { method: "OPTIONS" });
  assert.equal(options.status, 405);

  // HEAD rides on GET: allowed, and bodiless.
  const head = await ask(app, "/status", { method: "HEAD" });
  assert.equal(head.status, 503);
  assert.equal(head.text, "");

  assert.equal((await ask(app, "/nowhere", { method: "POST" })).status, 404);
  assert.equal((await ask(app, "/nowhere")).status, 404);
});

Deno.test("with an admin token, only /livez and the login pair answer without the bearer", async () => {
  await using h = await startHarness({ config: { adminToken: ADMIN } });
  const { app } = h.daemon;
  await waitFor(h.daemon, "Expired without a token", (s) => s.state.name === "Expired");

  for (const path of ["/status", "/", "/metrics", "/nowhere"]) {
    const missing = await ask(app, path);
    assert.equal(missing.status, 401, path);
    assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="kitekeeper"');
    assert.equal(JSON.parse(missing.text).error, "unauthorized");
  }
  const wrong = await ask(app, "/status", { headers: bearer(`${ADMIN}x`) });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  for (const almost of [ADMIN.slice(0, -1), ADMIN.toUpperCase(), ""]) {
    assert.equal((await ask(app, "/status", { headers: bearer(almost) })).status, 401);
  }
  // Not as a Basic credential, nor in the query string.
  const basic = await ask(app, "/status", { headers: { Authorization: `Basic ${btoa(ADMIN)}` } });
  assert.equal(basic.status, 401);
  assert.equal((await ask(app, `/status?access_token=${ADMIN}`)).status, 401);
  // 405 is for those who may know the routes.
  assert.equal((await ask(app, "/status", { method: "POST" })).status, 401);

  const status = await ask(app, "/status", { headers: bearer(ADMIN) });
  assert.equal(status.status, 503);
  assert.equal(JSON.parse(status.text).state, "Expired");
  const page = await ask(app, "/", { headers: { Authorization: `bearer   ${ADMIN}` } });
  assert.equal(page.status, 200);

  assert.equal((await ask(app, "/livez")).status, 200);
  const login = await ask(app, "/api/auth/login");
  assert.equal(login.status, 302);
  const callback = await ask(app, "/api/auth/callback?status=success&request_token=x");
  assert.equal(callback.status, 400, "the callback is reached, and refuses the missing state");
  assert.ok(!status.text.includes(ADMIN), "the token is not echoed");
  assert.ok(!h.lines.join("\n").includes(ADMIN), "nor logged");
});

Deno.test("without an admin token every route answers as before", async () => {
  await using h = await startHarness();
  const { app } = h.daemon;
  assert.equal((await ask(app, "/status")).status, 503);
  assert.equal((await ask(app, "/")).status, 200);
  assert.equal((await ask(app, "/livez")).status, 200);
});

Deno.test("a URL over the limit is 414 and headers over the limits are 431, before any route", async () => {
  await using h = await startHarness();
  const { app } = h.daemon;
  const { maxUrlLength, maxHeaderBytes, maxHeaderCount } = DEFAULT_REQUEST_LIMITS;

  // The request target is what counts: path and query.
  const prefix = "/api/auth/callback?state=";
  const fits = `${prefix}${"a".repeat(maxUrlLength - prefix.length)}`;
  assert.equal((await ask(app, fits)).status, 400, "at the limit the callback runs (and refuses)");
  const over = await ask(app, `${fits}a`);
  assert.equal(over.status, 414);
  assert.equal(JSON.parse(over.text).error, "uri_too_long");
  // Even on a path with no route: the limit comes first.
  assert.equal((await ask(app, `/${"n".repeat(maxUrlLength)}`)).status, 414);

  const big = await ask(app, "/livez", { headers: { "x-filler": "f".repeat(maxHeaderBytes) } });
  assert.equal(big.status, 431);
  assert.equal(JSON.parse(big.text).error, "headers_too_large");
  const many = new Headers();
  for (let i = 0; i <= maxHeaderCount; i++) many.set(`x-h${i}`, "v");
  assert.equal((await ask(app, "/livez", { headers: many })).status, 431);
  many.delete("x-h0");
  assert.equal((await ask(app, "/livez", { headers: many })).status, 200, "at the count limit");
  const normal = { "x-filler": "f".repeat(maxHeaderBytes / 2) };
  assert.equal((await ask(app, "/livez", { headers: normal })).status, 200);
});

Deno.test("pages carry a CSP and no-referrer; JSON carries nosniff and no-store; so do refusals", async () => {
  await using h = await startHarness({ config: { adminToken: ADMIN } });
  const { app } = h.daemon;

  const page = await ask(app, "/", { headers: bearer(ADMIN) });
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /(^|; )default-src 'none'(;|$)/);
  assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|data:|https?:/);
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.equal(page.headers.get("cache-control"), "no-store");
  assertPolicyCovers(csp, page.text);

  const refusal = await ask(app, "/api/auth/callback?status=success&request_token=x&state=1.2.3");
  assert.equal(refusal.status, 400);
  assert.match(refusal.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(refusal.headers.get("content-security-policy"), csp);
  assert.equal(refusal.headers.get("referrer-policy"), "no-referrer");
  assertPolicyCovers(csp, refusal.text);

  const answers = [
    await ask(app, "/status", { headers: bearer(ADMIN) }),
    await ask(app, "/livez"),
    await ask(app, "/nowhere", { headers: bearer(ADMIN) }),
    await ask(app, "/status", { method: "POST", headers: bearer(ADMIN) }),
    await ask(app, "/status"),
    await ask(app, `/livez?${"q".repeat(DEFAULT_REQUEST_LIMITS.maxUrlLength)}`),
  ];
  assert.deepEqual(answers.map((a) => a.status), [503, 200, 404, 405, 401, 414]);
  for (const answer of answers) {
    assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(answer.headers.get("x-content-type-options"), "nosniff", String(answer.status));
    assert.equal(answer.headers.get("cache-control"), "no-store", String(answer.status));
    assert.equal(answer.headers.get("content-security-policy"), null);
  }
  const redirect = await ask(app, "/api/auth/login");
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get("referrer-policy"), "no-referrer");
});

Deno.test("over a real socket: our 414/431/405 below the server's own ~400 KiB limit, its bare 431 above", async () => {
  await using h = await startHarness();
  const url = new URL(h.daemon.url);
  const port = Number(url.port);

  const longUrl = await fetch(`${h.daemon.url}/livez?${"q".repeat(60_000)}`);
  assert.equal(longUrl.status, 414);
  assert.equal((await longUrl.json()).error, "uri_too_long");
  const bigHeader = await fetch(`${h.daemon.url}/livez`, {
    headers: { "x-filler": "f".repeat(60_000) },
  });
  assert.equal(bigHeader.status, 431);
  assert.equal((await bigHeader.json()).error, "headers_too_large");
  const post = await fetch(`${h.daemon.url}/status`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();

  // Past about 400 KiB of request head, Deno.serveHttp's parser answers before any handler: a
  // bare 431 and a closed connection, or a reset if the client was still sending.
  const hugeUrl = await rawExchange(
    port,
    `GET /livez?${"q".repeat(500_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.match(
    hugeUrl,
    /^(HTTP\/1\.1 431 Request Header Fields Too Large|failed: ConnectionReset)$/,
  );
  const hugeHeader = await rawExchange(
    port,
    `GET /livez HTTP/1.1\r\nHost: x\r\nX-Filler: ${
      "f".repeat(500_000)
    }\r\nConnection: close\r\n\r\n`,
  );
  assert.match(
    hugeHeader,
    /^(HTTP\/1\.1 431 Request Header Fields Too Large|failed: ConnectionReset)$/,
  );
  const past64KiB = await rawExchange(
    port,
    `GET /livez?${"q".repeat(70_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(past64KiB, "HTTP/1.1 414 URI Too Long");
  const within = await rawExchange(
    port,
    `GET /livez?${"q".repeat(10_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(within, "HTTP/1.1 414 URI Too Long");

  // And it still serves.
  const livez = await fetch(`${h.daemon.url}/livez`);
  assert.equal(livez.status, 200);
  assert.equal(livez.headers.get("x-content-type-options"), "nosniff");
  await livez.body?.cancel();
});
