import assert from "node:assert/strict";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { DEFAULT_INSTRUMENTS } from "../../src/kite/instruments.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { KITE, simControl, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { hasTicksFor, skewedClock } from "../_support/daemon_fixture.ts";

async function getStatus(url: string): Promise<{ code: number; body: StatusBody }> {
  const response = await fetch(`${url}/status`);
  return { code: response.status, body: await response.json() as StatusBody };
}

/** Replaces the token line the way an editor's rename-save does: temp file, then rename. */
async function renameSave(path: string, token: string): Promise<void> {
  const text = await Deno.readTextFile(path);
  const next = text.replace(/^KITE_ACCESS_TOKEN=.*$/m, `KITE_ACCESS_TOKEN=${token}\r`);
  await Deno.writeTextFile(`${path}.swp`, next);
  await Deno.rename(`${path}.swp`, path);
}

Deno.test("the daemon keeps the feed live across login, expiry, hand edits, drops and stalls", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  const original = await Deno.readTextFile(h.envFile);

  // 1. No token: Expired, 503, login URL shown; /livez still 200.
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");
  const first = await getStatus(daemon.url);
  assert.equal(first.code, 503);
  assert.equal(first.body.state, "Expired");
  assert.equal(first.body.login_url, `${daemon.url}/api/auth/login`);
  const livez = await fetch(`${daemon.url}/livez`);
  assert.equal(livez.status, 200);
  await livez.body?.cancel();

  // 2. Login through HTTP: .env gets the token, every other byte kept, mode 0600.
  const login = await driveLogin(daemon.url, KITE);
  assert.equal(login.status, 302);
  assert.equal(login.location, "/");
  const written = await Deno.readTextFile(h.envFile);
  const token = /^KITE_ACCESS_TOKEN=([A-Za-z0-9]{32})\r$/m.exec(written)?.[1];
  assert.ok(token, "the callback wrote a 32-character token line, CRLF kept");
  assert.equal(written, `${original}KITE_ACCESS_TOKEN=${token}\r\n`);
  assert.equal((await Deno.stat(h.envFile)).mode! & 0o777, 0o600);

  // 3. Live, with ticks for the three indices.
  await waitFor(
    daemon,
    "ticks for the three indices",
    (s) => s.state.name === "Live" && hasTicksFor(daemon, DEFAULT_INSTRUMENTS),
  );
  const live = await getStatus(daemon.url);
  assert.equal(live.code, 200);
  assert.equal(live.body.token?.source, "callback");
  assert.equal(live.body.token?.user_id, KITE.userId);
  assert.deepEqual(Object.keys(live.body.feed.instruments).sort(), ["256265", "260105", "265"]);
  assert.equal(live.body.feed.instruments["256265"]?.name, "NIFTY 50");

  // 4. Kite kills the token, then drops the socket: one rejected handshake, then Expired.
  const rejectedBefore = sim.stats().handshakes.rejected;
  await simControl(sim, "expire");
  await simControl(sim, "drop");
  await waitFor(daemon, "Expired after expire + drop", (s) => s.state.name === "Expired");
  assert.equal(sim.stats().handshakes.rejected - rejectedBefore, 1);
  assert.equal((await getStatus(daemon.url)).code, 503);

  // 5. A person pastes a fresh token into .env with an editor: Live again, same process.
  const fresh = sim.issueAccessToken();
  const acceptedBefore = sim.stats().handshakes.accepted;
  await renameSave(h.envFile, fresh);
  const again = await waitFor(daemon, "Live after the hand edit", (s) => s.state.name === "Live");
  assert.equal(again.token?.source, "file");
  assert.equal(sim.stats().handshakes.accepted - acceptedBefore, 1);
  assert.equal(sim.stats().handshakes.rejected - rejectedBefore, 1, "no retry on the dead token");
  assert.equal((await getStatus(daemon.url)).body.pid, Deno.pid);

  // 6. A network drop: Reconnecting, then Live with the subscriptions replayed.
  const gen = again.gen;
  await simControl(sim, "drop");
  await waitFor(daemon, "Reconnecting after a drop", (s) => s.state.name === "Reconnecting");
  await waitFor(daemon, "Live on a new socket", (s) => s.state.name === "Live" && s.gen > gen);
  assert.deepEqual(
    Object.keys(sim.stats().subscriptions).map(Number).sort((a, b) => a - b),
    [...DEFAULT_INSTRUMENTS].sort((a, b) => a - b),
  );
  const afterDrop = await getStatus(daemon.url);
  assert.ok(afterDrop.body.connection.reconnects_total >= 1);

  // 7. A stall (TCP open, nothing sent): the watchdog reconnects.
  const stalledGen = daemon.actor.snapshot().gen;
  await simControl(sim, "stall?ms=2000");
  await waitFor(daemon, "a stall detected", (s) => s.lastError?.kind === "stall");
  await waitFor(
    daemon,
    "Live after the stall",
    (s) => s.state.name === "Live" && s.gen > stalledGen,
  );

  // Nothing secret in the logs.
  const log = h.lines.join("\n");
  for (const secret of [token, fresh, KITE.apiSecret]) assert.ok(!log.includes(secret));
});

Deno.test("a token that matches nothing never reaches the ticker and never drops the feed", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  const token = sim.issueAccessToken();
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
  await waitFor(daemon, "Live from a hand-written token", (s) => s.state.name === "Live");
  const handshakes = sim.stats().handshakes.accepted + sim.stats().handshakes.rejected;

  // Half-written: the token is cut short. The feed stays up; /status names the problem.
  const text = await Deno.readTextFile(h.envFile);
  await Deno.writeTextFile(h.envFile, text.replace(token, token.slice(0, 20)));
  const noted = await waitFor(daemon, "the invalid token noted", (s) => s.invalidToken !== null);
  assert.equal(noted.state.name, "Live");
  const status = await (await fetch(`${daemon.url}/status`)).json() as StatusBody;
  assert.equal(status.state, "Live");
  assert.match(status.env_problem ?? "", /holds an invalid token/);
  assert.ok(!JSON.stringify(status).includes(token.slice(0, 20)));
  assert.equal(sim.stats().handshakes.accepted + sim.stats().handshakes.rejected, handshakes);
});

Deno.test("at the expected expiry the daemon probes: 200 keeps the feed, a dead token keeps it until the socket ends", async () => {
  const clock = skewedClock();
  await using h = await startHarness({ daemon: { clock } });
  const { daemon, sim } = h;
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}\r\n`, {
    append: true,
  });
  const live = await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  assert.ok(live.expectedExpiry !== null && live.expectedExpiry > clock.now());

  // Time jumps past 06:00 IST; the probe timer fires. Kite still takes the token: stay Live,
  // say a login would help, but send no notice for a token that still works.
  clock.skew = live.expectedExpiry - Date.now() + 1_000;
  daemon.actor.send({ type: "ExpiryDue" });
  await waitFor(daemon, "login needed", (s) => s.loginNeeded && !s.probing);
  const status = await (await fetch(`${daemon.url}/status`)).json() as StatusBody;
  assert.equal(status.state, "Live");
  assert.equal(status.login_needed, true);
  assert.equal(status.login_url, `${daemon.url}/api/auth/login`);
  assert.ok(!h.lines.some((line) => line.includes("LOGIN NEEDED")));

  // At the next check (the 07:35 IST recheck), Kite has killed it (a flush, or a Kite Web
  // logout) but the socket streams on: the probe finds it dead, and the feed stays Live on it
  // with one notice.
  await simControl(sim, "expire");
  const next = daemon.actor.snapshot().nextProbeAt;
  assert.ok(next !== null);
  clock.skew += next - clock.now();
  const rejected = sim.stats().handshakes.rejected;
  daemon.actor.send({ type: "ExpiryDue" });
  await waitFor(daemon, "dead token found", (s) => s.tokenDead);
  const dead = await (await fetch(`${daemon.url}/status`)).json() as StatusBody;
  assert.equal(dead.state, "Live");
  assert.equal(dead.login_needed, true);
  assert.match(dead.reason, /dead token/);
  const notices = () => h.lines.filter((line) => line.includes("LOGIN NEEDED")).length;
  assert.equal(notices(), 1);
  const lastData = daemon.actor.snapshot().lastDataAt ?? 0;
  await waitFor(daemon, "data on the dead token", (s) => (s.lastDataAt ?? 0) > lastData);

  // The socket ends: Expired, without a handshake on the dead token, without a second notice.
  await simControl(sim, "drop");
  const expired = await waitFor(daemon, "Expired", (s) => s.state.name === "Expired");
  assert.equal(expired.state.name === "Expired" && expired.state.reason, "token expired");
  assert.ok(expired.shards.every((shard) => shard.socket === null));
  assert.equal(sim.stats().handshakes.rejected, rejected, "the probe, not a handshake, found it");
  assert.equal(notices(), 1);
});
