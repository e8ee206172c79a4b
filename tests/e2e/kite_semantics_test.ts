/**
 * Real Kite semantics, over sockets against the simulator: a handshake 403 is a question, a
 * dead token is not a dead feed, only TokenException kills a token, a 4th socket is not a
 * login problem, and a login's token of an unexpected shape is still used.
 */
import assert from "node:assert/strict";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { driveLogin } from "../../src/testing/login_driver.ts";
import {
  envText,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { skewedClock } from "../_support/daemon_fixture.ts";

async function status(url: string): Promise<StatusBody> {
  return await (await fetch(`${url}/status`)).json() as StatusBody;
}

function loginNotices(lines: readonly string[]): number {
  return lines.filter((line) => line.includes("LOGIN NEEDED")).length;
}

/** A daemon Live on a fresh token, its probe answered, on a clock a test can jump. */
async function startLive() {
  const clock = skewedClock();
  const h = await startHarness({
    daemon: { clock },
    env: (sim) => envText(sim.url, [`KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`]),
  });
  await waitFor(h.daemon, "Live", (s) => s.state.name === "Live" && !s.probing);
  /** Jumps to the next scheduled probe and fires it. */
  function probeNow(): void {
    clock.skew += h.daemon.actor.snapshot().nextProbeAt! - clock.now();
    h.daemon.actor.send({ type: "ExpiryDue" });
  }
  return Object.assign(h, { probeNow });
}

Deno.test("a handshake 403 with a live token (PermissionException) is a transient refusal: backoff, named in /status, never a login", async () => {
  let token = "";
  await using h = await startHarness({
    env: (sim) => envText(sim.url, [`KITE_ACCESS_TOKEN=${token = sim.issueAccessToken()}`]),
  });
  const { daemon, sim } = h;
  await waitFor(daemon, "Live", (s) => s.state.name === "Live" && !s.probing);
  const before = sim.stats().handshakes;
  await simControl(sim, "reject?status=403&error_type=PermissionException&count=2");
  await simControl(sim, "drop");
  const refused = await waitFor(daemon, "a refusal", (s) => s.lastError?.kind === "refused");
  assert.equal(refused.loginNeeded, false);
  assert.equal(refused.state.name, "Reconnecting");
  const body = await status(daemon.url);
  assert.match(
    body.connection.last_error ?? "",
    /^refused: Kite refused the ticker although the token is valid/,
  );
  assert.equal(body.login_needed, false);
  assert.equal(body.login_url, `${daemon.url}/api/auth/login`); // not Live: shown, not asked
  await waitFor(daemon, "Live again", (s) => s.state.name === "Live");
  assert.equal(daemon.actor.snapshot().token?.token, token);
  const after = sim.stats().handshakes;
  assert.equal(after.rejected - before.rejected, 2, "both refusals reached Kite, no more");
  assert.equal(after.accepted - before.accepted, 1);
  assert.equal(loginNotices(h.lines), 0);
});

Deno.test("a dead token costs one handshake and one probe, then Expired", async () => {
  await using h = await startHarness({ env: (sim) => envText(sim.url) });
  const { daemon, sim } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  let probes = 0;
  daemon.actor.subscribe((s, previous) => {
    if (s.probing && !previous.probing) probes++;
  });
  // A token the simulator never issued: as dead as yesterday's.
  await Deno.writeTextFile(h.envFile, "KITE_ACCESS_TOKEN=DeadTokenDeadTokenDeadTokenDead0\r\n", {
    append: true,
  });
  await daemon.reload();
  await waitFor(daemon, "Expired on it", (s) => s.state.name === "Expired" && s.token !== null);
  assert.deepEqual(sim.stats().handshakes, { accepted: 0, rejected: 1 });
  assert.equal(probes, 1);
  assert.equal(loginNotices(h.lines), 2, "one for no token, one for the dead one");
  const body = await status(daemon.url);
  assert.match(body.reason, /^token (rejected|expired)$/);
  assert.match(body.connection.last_error ?? "", /^probe: TokenException/);
});

Deno.test("a Kite Web logout mid-day with the socket open: Live on a dead token with one notice, Expired at the drop with no handshake", async () => {
  await using h = await startLive();
  const { daemon, sim } = h;
  await simControl(sim, "logout");
  // The next scheduled probe (market hours, the recheck, or the expiry) finds it dead.
  h.probeNow();
  await waitFor(daemon, "found dead", (s) => s.tokenDead);
  const body = await status(daemon.url);
  assert.equal(body.state, "Live");
  assert.equal(body.login_needed, true);
  assert.match(body.reason, /dead token/);
  assert.notEqual(body.next_reminder, null);
  assert.equal(loginNotices(h.lines), 1);
  const rejected = sim.stats().handshakes.rejected;
  const seen = daemon.actor.snapshot().lastDataAt ?? 0;
  await waitFor(daemon, "data still flowing", (s) => (s.lastDataAt ?? 0) > seen);
  await simControl(sim, "drop");
  await waitFor(daemon, "Expired", (s) => s.state.name === "Expired");
  assert.equal(sim.stats().handshakes.rejected, rejected, "no handshake on the dead token");
  assert.equal(loginNotices(h.lines), 1);
});

Deno.test("on REST only TokenException is a dead token: a PermissionException on the probe changes nothing", async () => {
  await using h = await startLive();
  const { daemon, sim } = h;
  const live = daemon.actor.snapshot();
  await simControl(sim, "reject?target=rest&error_type=PermissionException&count=1");
  h.probeNow();
  await waitFor(
    daemon,
    "the probe answered",
    (s) => s.nextProbeAt !== live.nextProbeAt && !s.probing,
  );
  assert.ok(
    h.lines.some((line) => /Probe of token .* failed: .*403 PermissionException/.test(line)),
  );
  const s = daemon.actor.snapshot();
  assert.equal(s.state.name, "Live");
  assert.equal(s.tokenDead, false);
  assert.equal(loginNotices(h.lines), 0);
});

Deno.test("a 4th socket on the api_key (429) is a network failure with backoff, never a login", async () => {
  await using h = await startHarness({ env: (sim) => envText(sim.url) });
  const { daemon, sim } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  // Another program on the same key holds all three sockets.
  const other = sim.issueAccessToken();
  const url = `${sim.tickerUrl}?api_key=${KITE.apiKey}&access_token=${other}`;
  const sockets = [new WebSocket(url), new WebSocket(url), new WebSocket(url)];
  await Promise.all(sockets.map((s) => new Promise((resolve) => s.onopen = resolve)));
  try {
    const token = sim.issueAccessToken();
    await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
    await daemon.reload();
    const failing = await waitFor(daemon, "refused twice", (s) => s.attempts >= 2);
    assert.equal(failing.state.name, "Reconnecting");
    assert.equal(failing.lastError?.kind, "network");
    assert.match(failing.lastError?.detail ?? "", /429/);
    assert.equal(failing.loginNeeded, false);
    // One of the other program's sockets goes: the daemon gets its socket.
    const closed = new Promise((resolve) => sockets[0]!.onclose = resolve);
    sockets[0]!.close();
    await closed;
    await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  } finally {
    await Promise.all(
      sockets.slice(1).map((s) => {
        const closed = new Promise((resolve) => s.onclose = resolve);
        s.close();
        return closed;
      }),
    );
  }
  assert.equal(loginNotices(h.lines), 1, "only the no-token notice at start");
});

Deno.test("a login's token that fails KITEKEEPER_TOKEN_PATTERN is still written and used, with a warning naming the pattern", async () => {
  await using h = await startHarness({ config: { tokenPattern: /^only-this-shape$/ } });
  const { daemon } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const login = await driveLogin(daemon.url, KITE);
  assert.equal(login.status, 302);
  const live = await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  const token = live.token!.token;
  assert.match(await Deno.readTextFile(h.envFile), new RegExp(`KITE_ACCESS_TOKEN=${token}`));
  assert.ok(h.lines.some((line) => line.includes("KITEKEEPER_TOKEN_PATTERN ^only-this-shape$")));
  assert.ok(!h.lines.some((line) => line.includes(token)), "the warning never holds the token");
  // The watcher reads the file back: the token is used, not reported as a bad value.
  await daemon.reload();
  const after = daemon.actor.snapshot();
  assert.equal(after.invalidToken, null);
  assert.equal(after.token?.token, token);
});
