import assert from "node:assert/strict";
import { formatStatus } from "../../src/cli/status_command.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { hasTicksFor } from "../_support/daemon_fixture.ts";
import { denoChildEnv, MAIN } from "../_support/run.ts";

const NOW = Date.parse("2026-03-10T22:48:00.000Z");

function iso(msAgo: number): string {
  return new Date(NOW - msAgo).toISOString();
}

function liveBody(): StatusBody {
  return {
    state: "Live",
    since: iso(3 * 60_000 + 12_000),
    reason: "live",
    login_needed: false,
    token: {
      fingerprint: "3f2a9c1b7d4e",
      source: "callback",
      loaded_at: iso(10 * 60_000),
      expected_expiry: new Date(NOW + 7 * 3_600_000 + 12 * 60_000 + 30_000).toISOString(),
      user_id: "AB1234",
    },
    env_problem: null,
    feed: {
      mode: "full",
      instruments: {
        "256265": {
          name: "NIFTY 50",
          last_price: 24021.3,
          change: 21.3,
          change_percent: 0.0887,
          at: iso(400),
        },
        "260105": {
          name: "NIFTY BANK",
          last_price: 51234.55,
          change: -120.1,
          change_percent: -0.2339,
          at: iso(12_300),
        },
      },
      last_data_at: iso(400),
      ticks_total: 1234,
      decode_errors_total: 0,
      ignored_ticks_total: 0,
      warning: null,
      upstream: [{
        shard: 0,
        state: "streaming",
        instruments: 2,
        last_data_at: iso(400),
        attempts: 0,
      }],
      gaps_today: { count: 0, seconds: 0, last: [] },
    },
    journal: null,
    market: { phase: "open", next_change: new Date(NOW + 42 * 60_000).toISOString() },
    connection: { attempts: 0, reconnects_total: 2, last_error: null, text_errors_total: 0 },
    endpoint: {
      url: "ws://127.0.0.1:8000/ws",
      clients: 2,
      max_clients: 64,
      instruments: 3,
      subscriptions: 4,
      slow_drops_total: 0,
    },
    login_url: null,
    next_reminder: null,
    pid: 4242,
    version: "0.1.0",
    uptime_s: 3600,
  };
}

function status(
  args: readonly string[],
  options: { flags?: string[]; env?: Record<string, string> } = {},
) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...(options.flags ?? ["--allow-net"]), MAIN, "status", ...args],
    env: denoChildEnv(options.env),
    clearEnv: true,
  }).output().then((output) => ({
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr).trim(),
  }));
}

Deno.test("formatStatus() summarizes a Live daemon: since, expiry countdown, each instrument", () => {
  const text = formatStatus(liveBody(), NOW);
  const lines = text.split("\n");
  assert.equal(lines[0], `Live since ${iso(192_000)} (3m 12s ago)`);
  assert.ok(lines.includes("  reason:  live"));
  assert.ok(
    lines.includes("  token:   3f2a9c1b7d4e (from callback, user AB1234), expires in 7h 12m"),
    text,
  );
  assert.ok(lines.includes("  feed:    full mode, 1234 ticks, last data 0.4 s ago"), text);
  assert.ok(lines.includes("    NIFTY 50    24021.30   +21.30 (+0.09%)  0.4 s ago"), text);
  assert.ok(lines.includes("    NIFTY BANK  51234.55  -120.10 (-0.23%)  12 s ago"), text);
  assert.ok(lines.includes("  market:  open, changes in 42m 00s"), text);
  assert.ok(!text.includes("login:"), "no login URL while Live and not needed");
  assert.ok(!text.includes("gaps:") && !text.includes("journal:"), "no gap, journal fine");

  const gapped = formatStatus({
    ...liveBody(),
    feed: {
      ...liveBody().feed,
      gaps_today: {
        count: 2,
        seconds: 7.25,
        last: [{ shard: 0, start: iso(60_000), end: iso(55_000), seconds: 5, cause: "not_live" }],
      },
    },
    journal: {
      state: "stopped",
      file: "/j/2026-12-02.kkj",
      problem: "Failed to write journal /j/2026-12-02.kkj: No space left on device",
      records_total: 10,
      bytes_total: 100,
      record_bytes_total: 150,
      writes_total: 2,
      fsyncs_total: 1,
      dropped_total: 3,
    },
  }, NOW);
  assert.match(gapped, /^ {2}gaps: {4}2 today, 7\.3 s, the last 5\.0 s ended 55 s ago$/m);
  assert.match(
    gapped,
    /^ {2}journal: stopped: Failed to write journal .*No space left on device$/m,
  );
});

Deno.test("formatStatus() says a login is needed past expiry, and shows the URL and the error", () => {
  const live = liveBody();
  const body: StatusBody = {
    ...live,
    state: "Expired",
    reason: "token expired",
    login_needed: true,
    token: { ...live.token!, expected_expiry: iso(60_000) },
    feed: { ...live.feed, instruments: {} },
    connection: { ...live.connection, last_error: "probe: HTTP 403 TokenException" },
    login_url: "http://127.0.0.1:8000/api/auth/login",
  };
  const text = formatStatus(body, NOW);
  assert.match(text, /^Expired since /);
  assert.match(text, /, past expiry: login needed$/m);
  assert.match(text, /^ {2}error: {3}probe: HTTP 403 TokenException$/m);
  assert.match(text, /^ {4}\(no ticks yet\)$/m);
  assert.match(text, /^ {2}login: {3}http:\/\/127\.0\.0\.1:8000\/api\/auth\/login$/m);

  const refused = formatStatus({ ...body, token: { ...live.token! } }, NOW);
  assert.match(refused, /, expires in 7h 12m; login needed$/m, "rejected before its expiry");
  const none = formatStatus({ ...body, token: null }, NOW);
  assert.match(none, /^ {2}token: {3}none$/m);
});

Deno.test("kitekeeper status exits 1 while not Live and 0 once Live, with only --allow-net", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const expired = await status(["--url", daemon.url]);
  assert.equal(expired.code, 1, expired.stderr);
  assert.match(expired.stdout, /^Expired since /);
  assert.ok(expired.stdout.includes(`login:   ${daemon.url}/api/auth/login`), expired.stdout);

  const token = sim.issueAccessToken();
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
  await daemon.reload();
  await waitFor(
    daemon,
    "Live with ticks",
    (s) => s.state.name === "Live" && hasTicksFor(daemon, [256265]),
  );
  const live = await status(["--url", `${daemon.url}/`]);
  assert.equal(live.code, 0, live.stderr);
  assert.match(live.stdout, /^Live since /);
  assert.match(live.stdout, /expires in \d+h \d{2}m/);
  assert.match(
    live.stdout,
    /^ {4}NIFTY 50 +\d+\.\d{2} +[+-]\d+\.\d{2} \([+-]\d+\.\d{2}%\) +[\d.]+ s ago$/m,
  );
  assert.ok(!live.stdout.includes(token));

  const json = await status(["--url", daemon.url, "--json"]);
  assert.equal(json.code, 0);
  const body = JSON.parse(json.stdout) as StatusBody;
  assert.equal(body.state, "Live");
  assert.equal(body.pid, Deno.pid, "the body as the daemon sent it");

  // With --allow-env it finds the daemon through KITEKEEPER_LISTEN.
  const port = new URL(daemon.url).port;
  const viaEnv = await status([], {
    flags: ["--allow-net", "--allow-env"],
    env: { KITEKEEPER_LISTEN: `0.0.0.0:${port}` },
  });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, /^Live since /);
});

Deno.test("kitekeeper status exits 2 with one line when nothing answers", async () => {
  const url = `http://127.0.0.1:${freePort()}`;
  const result = await status(["--url", url]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.split("\n").length, 1, result.stderr);
  assert.ok(result.stderr.startsWith(`Failed to reach kitekeeper at ${url}: `), result.stderr);
});

Deno.test("kitekeeper status exits 2 when the answer is not kitekeeper's status", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ state: "Running", hello: "world" }, { status: 200 }),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const result = await status(["--url", url]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    `Failed to read ${url}/status: HTTP 200, not kitekeeper's status`,
  );
});

Deno.test("kitekeeper status refuses unknown flags with the usage line (exit 2)", async () => {
  const result = await status(["--bogus"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Usage: kitekeeper/);
});

Deno.test("kitekeeper status sends KITEKEEPER_ADMIN_TOKEN as a bearer, and says so on a 401", async () => {
  const adminToken = "admin-token-0123456789abcdef";
  await using h = await startHarness({ config: { adminToken } });
  await waitFor(h.daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const refused = await status(["--url", h.daemon.url]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /HTTP 401, it needs KITEKEEPER_ADMIN_TOKEN/);
  const allowed = await status(["--url", h.daemon.url], {
    flags: ["--allow-net", "--allow-env"],
    env: { KITEKEEPER_ADMIN_TOKEN: adminToken },
  });
  assert.equal(allowed.code, 1, allowed.stderr);
  assert.match(allowed.stdout, /^Expired since /);
  assert.ok(!`${allowed.stdout}${refused.stderr}`.includes(adminToken));
});
