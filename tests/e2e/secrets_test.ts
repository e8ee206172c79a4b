import assert from "node:assert/strict";
import { parseEnv } from "../../src/token/env_file.ts";
import { fingerprint } from "../../src/token/fingerprint.ts";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { startSimulator } from "../../src/simulator/simulator.ts";
import { KITE, simControl } from "../../src/testing/daemon_harness.ts";
import { kitekeeperRun } from "../_support/run.ts";

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** 32 random letters and digits: the shape of every Kite secret. */
function randomSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => ALPHANUMERIC[b % 62])
    .join("");
}

/** A child's output stream, pumped into lines as it arrives; waits on a line from a mark on. */
class Output {
  readonly lines: string[] = [];
  readonly done: Promise<void>;
  #waiters: { pattern: RegExp; from: number; resolve: () => void }[] = [];
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const line of parts) this.#add(line);
    }
    if (buffer !== "") this.#add(buffer);
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  #add(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.pattern.test(line)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Where the output is now: pass it to {@linkcode Output.until} before causing a line. */
  mark(): number {
    return this.lines.length;
  }

  /** Resolves once a line at or after `from` matches; rejects if the output ends first. */
  async until(pattern: RegExp, from: number): Promise<void> {
    if (this.lines.slice(from).some((line) => pattern.test(line))) return;
    if (this.#ended) throw new Error(`Failed to see ${pattern}:\n${this.lines.join("\n")}`);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ pattern, from, resolve });
    await promise;
    if (!this.lines.slice(from).some((line) => pattern.test(line))) {
      throw new Error(`Failed to see ${pattern}: output ended:\n${this.lines.join("\n")}`);
    }
  }
}

/** Everything the daemon said, with where it said it, for the search at the end. */
interface Said {
  readonly where: string;
  readonly text: string;
}

function describe(where: string, response: Response, body: string): Said {
  const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join("\n");
  return { where, text: `${response.status}\n${headers}\n\n${body}` };
}

Deno.test("a full cycle run as a child process never shows a secret in any output", async () => {
  const apiSecret = randomSecret();
  const adminToken = randomSecret();
  const clientToken = randomSecret();
  const wrongClientToken = randomSecret();
  const said: Said[] = [];
  const requestTokens: string[] = [];
  const accessTokens: string[] = [];

  // Kite redirects to a fixed callback URL, and the daemon binds port 0: a loopback relay in
  // between forwards the callback and notes the request_token each one carries.
  const daemonOrigin = Promise.withResolvers<string>();
  const relay = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const requestToken = url.searchParams.get("request_token");
    if (requestToken !== null) requestTokens.push(requestToken);
    const answer = await fetch(`${await daemonOrigin.promise}${url.pathname}${url.search}`, {
      redirect: "manual",
    });
    return new Response(answer.body, answer);
  });
  await using sim = await startSimulator({
    ...KITE,
    apiSecret,
    redirectUrl: `http://127.0.0.1:${relay.addr.port}/api/auth/callback`,
    heartbeatMs: 50,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_secrets_" });
  const envFile = `${dir}/.env`;
  await Deno.writeTextFile(
    envFile,
    [
      `KITE_API_KEY=${KITE.apiKey}`,
      `KITE_API_SECRET=${apiSecret}`,
      `KITE_API_ROOT=${sim.url}`,
      `KITE_LOGIN_URL=${sim.url}/connect/login`,
      `KITE_TICKER_URL=${sim.tickerUrl}`,
      "KITEKEEPER_BACKOFF_BASE_MS=20",
      "KITEKEEPER_BACKOFF_CAP_MS=200",
      "",
    ].join("\n"),
  );
  // Group- and world-readable, as a careless copy leaves it: the start-up must say so.
  await Deno.chmod(envFile, 0o644);

  const child = kitekeeperRun(envFile, {
    listen: "127.0.0.1:0",
    env: { KITEKEEPER_ADMIN_TOKEN: adminToken, KITEKEEPER_CLIENT_TOKENS: clientToken },
  }).spawn();
  const out = new Output(child.stdout);
  const err = new Output(child.stderr);
  const auth = { Authorization: `Bearer ${adminToken}` };

  async function get(where: string, path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(`${await daemonOrigin.promise}${path}`, {
      redirect: "manual",
      ...init,
    });
    const body = await response.text();
    said.push(describe(where, response, body));
    return new Response(body, response);
  }
  async function snapshot(step: string): Promise<void> {
    await get(`${step}: /status`, "/status", { headers: auth });
    await get(`${step}: /`, "/", { headers: auth });
    await get(`${step}: /metrics`, "/metrics", { headers: auth });
  }
  async function tokenInFile(): Promise<string> {
    const token = parseEnv(await Deno.readTextFile(envFile))["KITE_ACCESS_TOKEN"];
    assert.ok(token !== undefined, "a token in .env");
    return token;
  }

  try {
    const started = out.mark();
    await out.until(/^kitekeeper listening on http:\/\/127\.0\.0\.1:\d+$/, started);
    const origin = /listening on (\S+)$/.exec(out.lines.find((l) => l.includes("listening"))!)!;
    daemonOrigin.resolve(origin[1]!);
    await err.until(/accessible to group or others/, 0);
    const warning = err.lines.find((line) => line.includes("accessible to group or others"))!;
    assert.ok(warning.startsWith("warning: "), warning);
    assert.ok(warning.includes(envFile), "the warning names the file");
    assert.match(warning, /mode 0644/);
    assert.ok(
      !err.lines.some((line) => line.includes("KITE_USER_ID is unset")),
      "loopback: no pin warning",
    );
    await snapshot("start");

    // 1. Login through the browser's path: the callback writes .env, 0600, and goes Live.
    let mark = out.mark();
    const login = await driveLogin(await daemonOrigin.promise, KITE);
    said.push({ where: "login: callback answer", text: JSON.stringify(login) });
    assert.equal(login.status, 302);
    await out.until(/→ Live in \d+ ms/, mark);
    const first = await tokenInFile();
    accessTokens.push(first);
    assert.equal((await Deno.stat(envFile)).mode! & 0o777, 0o600, "written 0600");
    await snapshot("live");

    // 2. Kite expires every session, then the socket drops: Expired.
    mark = err.mark();
    await simControl(sim, "expire");
    await simControl(sim, "drop");
    await err.until(/→ Expired/, mark);
    await snapshot("expired");

    // 3. A hand edit of .env with a new token: Live again.
    const second = sim.issueAccessToken();
    accessTokens.push(second);
    mark = out.mark();
    const text = await Deno.readTextFile(envFile);
    await Deno.writeTextFile(envFile, text.replace(first, second));
    await out.until(/→ Live in \d+ ms/, mark);
    assert.equal(await tokenInFile(), second);
    await snapshot("hand edit");

    // 4. A drop: reconnected with the same token.
    mark = out.mark();
    await simControl(sim, "drop");
    await out.until(/→ Live in \d+ ms/, mark);
    await snapshot("after drop");

    // 5. A callback with a forged state, as a page and as JSON.
    const forgedToken = randomSecret();
    requestTokens.push(forgedToken);
    const forged = `/api/auth/callback?action=login&type=login&status=success` +
      `&request_token=${forgedToken}&state=${"ab".repeat(16)}.${Date.now()}.${"cd".repeat(32)}`;
    assert.equal((await get("forged state: page", forged)).status, 400);
    const forgedJson = await get("forged state: json", forged, {
      headers: { Accept: "application/json" },
    });
    assert.equal((await forgedJson.json()).error, "state_forged");

    // 6. A genuine state with a request_token Kite never issued, as a page and as JSON.
    for (const accept of ["text/html", "application/json"]) {
      const start = await get(`bad request_token (${accept}): login`, "/api/auth/login");
      const kite = new URL(start.headers.get("location")!);
      const params = new URLSearchParams(kite.searchParams.get("redirect_params")!);
      const badToken = randomSecret();
      requestTokens.push(badToken);
      const query = new URLSearchParams({
        action: "login",
        type: "login",
        status: "success",
        request_token: badToken,
        state: params.get("state")!,
      });
      const refused = await get(`bad request_token (${accept})`, `/api/auth/callback?${query}`, {
        headers: { Accept: accept },
      });
      assert.equal(refused.status, 502);
    }

    // 7. The admin token's refusals.
    assert.equal((await get("no bearer", "/status")).status, 401);
    const wrong = await get("wrong bearer", "/status", {
      headers: { Authorization: `Bearer ${adminToken.slice(1)}x` },
    });
    assert.equal(wrong.status, 401);
    // 8. A local program on /ws with its credential, and one with a wrong credential.
    const ws = (await daemonOrigin.promise).replace("http", "ws");
    const program = new WebSocket(`${ws}/ws?api_key=${KITE.apiKey}&access_token=${clientToken}`);
    await new Promise((resolve, reject) => {
      program.onopen = resolve;
      program.onerror = () => reject(new Error("Failed to open /ws with the client credential"));
    });
    program.send(JSON.stringify({ a: "subscribe", v: ["x"] }));
    said.push({
      where: "/ws error text",
      text: await new Promise<string>((resolve) => {
        program.onmessage = (event) => {
          if (typeof event.data === "string") resolve(event.data);
        };
      }),
    });
    await snapshot("with a /ws client");
    const closed = new Promise((resolve) => program.onclose = resolve);
    program.close();
    await closed;
    const refused = await get(
      "/ws with a wrong credential",
      `/ws?api_key=${KITE.apiKey}&access_token=${wrongClientToken}`,
      {
        headers: {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
      },
    );
    assert.equal(refused.status, 403);
    assert.equal(await tokenInFile(), second, "no refusal touched .env");
    assert.equal((await Deno.stat(envFile)).mode! & 0o777, 0o600);
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await out.done;
    await err.done;
    await relay.shutdown();
    await Deno.remove(dir, { recursive: true });
    said.push({ where: "stdout", text: out.lines.join("\n") });
    said.push({ where: "stderr", text: err.lines.join("\n") });
    assert.equal(status.code, 0, err.lines.join("\n"));
  }

  const secrets: { name: string; value: string }[] = [
    { name: "the api secret", value: apiSecret },
    { name: "the admin token", value: adminToken },
    { name: "the client credential", value: clientToken },
    { name: "a wrong client credential", value: wrongClientToken },
    ...accessTokens.map((value, i) => ({ name: `access token ${i + 1}`, value })),
    ...requestTokens.map((value, i) => ({ name: `request_token ${i + 1}`, value })),
  ];
  assert.equal(requestTokens.length, 4, "the login's, the forged one and two bad ones");
  // Whole values, and any 8 characters from either end (the seed logged token prefixes).
  for (const { name, value } of secrets) {
    for (const piece of [value, value.slice(0, 8), value.slice(-8)]) {
      for (const { where, text } of said) {
        assert.ok(!text.includes(piece), `${name} (${piece.length} chars) appears in ${where}`);
      }
    }
  }

  // The search was over real output: the status bodies and logs do name the tokens, by
  // fingerprint, and the refusals and log lines are there.
  const all = said.map((s) => s.text).join("\n");
  for (const token of accessTokens) assert.ok(all.includes(fingerprint(token)));
  assert.match(all, /Login completed for AB1234/);
  assert.match(all, /login state was not issued by this kitekeeper/);
  assert.match(all, /Kite refused the request_token/);
  assert.match(all, /Incorrect `api_key` or `access_token`/);
  assert.match(all, /kitekeeper_endpoint_clients 1/);
  assert.ok(said.filter((s) => s.where.endsWith("/status")).length >= 5);
});
