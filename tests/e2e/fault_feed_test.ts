/**
 * The fault matrix, feed side: what Kite's ticker (or the network to it) does wrong, against
 * the real simulator and a real daemon. Each test asserts the state reached, that the
 * process still serves, and that nothing was lost, and prints how long recovery took
 * (`fault matrix | row | …`). Timers are shortened through config (backoff 20–100 ms,
 * stall 400 ms, a small handshake limit where the row is about it) so the matrix runs in
 * seconds; the production defaults (250 ms–30 s, 5 s, 10 s) only scale the figures.
 *
 * @module
 */
import assert from "node:assert/strict";
import { simControl } from "../../src/testing/daemon_harness.ts";
import {
  assertNothingLost,
  assertServes,
  errorText,
  liveOn,
  reach,
  renameSave,
  report,
  since,
  socketsOf,
  startFaultHarness,
  ticksResume,
  witness,
} from "../_support/fault_fixture.ts";

/** Enough heartbeats (50 ms apart) to outlast six backoff caps of 100 ms. */
const SIX_BACKOFF_CAPS = 12;

Deno.test("fault: a dead token at startup → Expired after one rejected handshake, never retried", async () => {
  const start = performance.now();
  await using h = await startFaultHarness({ token: "dead" });
  const { daemon } = h;
  const { snapshot } = await reach(daemon, "Expired", (s) => s.state.name === "Expired");
  report("403 at the handshake", "start → Expired", since(start));
  assert.equal(socketsOf(snapshot), 0);
  assert.deepEqual(h.sim.stats().handshakes, { accepted: 0, rejected: 1 });

  // Everything that could tempt a retry: a drop, stray timer and socket events, a re-read.
  await simControl(h.sim, "drop");
  daemon.actor.send({ type: "RetryDue", shard: 0 });
  daemon.actor.send({ type: "WatchdogDue", shard: 0 });
  daemon.actor.send({ type: "SocketFailed", gen: snapshot.gen, kind: "network", detail: "x" });
  await daemon.reload();
  const idle = daemon.actor.snapshot();
  assert.equal(idle.state.name, "Expired");
  assert.equal(socketsOf(idle), 0, "no socket open or opening");
  assert.equal(idle.nextProbeAt, null, "no probe planned");
  const quiet = await witness(h.sim, SIX_BACKOFF_CAPS);
  report("403 at the handshake", "a quiet stretch (6 backoff caps), still 1 rejected,", quiet);
  assert.equal(h.sim.stats().handshakes.rejected, 1, "no retry storm on a dead token");
  assert.equal(daemon.actor.snapshot().gen, snapshot.gen, "no socket opened since");

  const status = await assertServes(daemon, "Expired");
  assert.equal(status.reason, "token rejected");
  assert.equal(status.login_needed, true);
  assert.equal(status.login_url, `${daemon.url}/api/auth/login`);
  assert.equal(status.token?.fingerprint, snapshot.token?.fingerprint);
  assert.equal(await Deno.readTextFile(h.envFile), h.startText, ".env untouched");
});

Deno.test("fault: the token expires while the socket is open, then a drop → Expired, one 403", async () => {
  await using h = await startFaultHarness();
  const { daemon } = h;
  await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  // Kite keeps an open socket alive after the token dies: ticks keep coming.
  await simControl(h.sim, "expire");
  await ticksResume(daemon, Date.now());
  await assertServes(daemon, "Live");

  const before = h.sim.stats().handshakes;
  const dropped = performance.now();
  await simControl(h.sim, "drop");
  const { snapshot } = await reach(daemon, "Expired", (s) => s.state.name === "Expired");
  report("expiry while open, then a drop", "drop → Expired", since(dropped));
  assert.equal(snapshot.state.name === "Expired" && snapshot.state.reason, "token rejected");
  await witness(h.sim, SIX_BACKOFF_CAPS);
  const after = h.sim.stats().handshakes;
  assert.equal(after.rejected - before.rejected, 1, "exactly one handshake on the dead token");
  assert.equal(after.accepted - before.accepted, 1, "only the witness socket was accepted");
  await assertServes(daemon, "Expired");

  const fresh = h.sim.issueAccessToken();
  const edited = performance.now();
  await renameSave(h.envFile, fresh);
  await reach(daemon, "Live on the new token", liveOn(fresh));
  report("expiry while open, then a drop", "new token in .env → Live", since(edited));
  await assertNothingLost(h, Date.now());
  await assertServes(daemon, "Live");
});

Deno.test("fault: an abrupt drop → Reconnecting, then Live on a new socket with subscriptions replayed", async () => {
  await using h = await startFaultHarness();
  const { daemon } = h;
  const live = await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  const states: string[] = [];
  const unsubscribe = daemon.actor.subscribe((s, previous) => {
    if (s.state.name !== previous.state.name) states.push(s.state.name);
  });
  const dropped = performance.now();
  const droppedAt = Date.now();
  assert.deepEqual(await simControl(h.sim, "drop"), { dropped: 1 });
  const again = await reach(daemon, "Live on a new socket", (s) => {
    return s.state.name === "Live" && s.gen > live.snapshot.gen;
  });
  unsubscribe();
  report("abrupt drop", "drop → Live again", since(dropped));
  assert.deepEqual(states, ["Reconnecting", "Live"]);
  assert.equal(again.snapshot.gen, live.snapshot.gen + 1, "one reconnect, no extra socket");
  assert.equal(again.snapshot.token?.token, h.startToken);
  assert.equal(again.snapshot.attempts, 0, "attempts reset on Live");
  await assertNothingLost(h, droppedAt);
  const status = await assertServes(daemon, "Live");
  assert.equal(status.connection.reconnects_total, 1);
  assert.match(status.connection.last_error ?? "", /^network: Socket closed \(4000\)/);
});

Deno.test("fault: a stall with TCP open → the watchdog reconnects, Live once data flows again", async () => {
  await using h = await startFaultHarness({ config: { stallMs: 300 } });
  const { daemon } = h;
  const live = await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  let stallRetries = 0;
  const unsubscribe = daemon.actor.subscribe((s, previous) => {
    if (s.lastError !== previous.lastError && s.lastError?.kind === "stall") stallRetries++;
  });
  const stalled = performance.now();
  const stalledAt = Date.now();
  await simControl(h.sim, "stall?ms=700");
  const detected = await reach(daemon, "a stall detected", (s) => s.state.name === "Reconnecting");
  report("stall with TCP open", "stall → detected", since(stalled));
  assert.match(errorText(detected.snapshot), /^stall: no data for \d+ ms$/);
  const again = await reach(daemon, "Live after the stall", (s) => {
    return s.state.name === "Live" && s.gen > live.snapshot.gen;
  });
  unsubscribe();
  report(
    "stall with TCP open",
    `stall → Live again (${stallRetries} watchdog retries)`,
    since(stalled),
  );
  assert.ok(stallRetries >= 1);
  assert.equal(again.snapshot.reconnectsTotal, again.snapshot.gen - 1);
  await assertNothingLost(h, stalledAt);
  await assertServes(daemon, "Live");
});

Deno.test("fault: a garbage binary message is counted in /status and the feed stays Live", async () => {
  await using h = await startFaultHarness();
  const { daemon } = h;
  const live = await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  const sent = performance.now();
  assert.deepEqual(await simControl(h.sim, "garbage"), { sent: 1 });
  await reach(daemon, "the decode error counted", () => {
    return daemon.feed.snapshot().decode_errors_total > 0;
  });
  report("garbage binary message", "garbage → counted", since(sent));
  await ticksResume(daemon, Date.now());
  const status = await assertServes(daemon, "Live");
  assert.equal(status.feed.decode_errors_total, 1);
  assert.equal(daemon.actor.snapshot().gen, live.snapshot.gen, "the same socket");
  assert.equal(status.connection.reconnects_total, 0);
  assert.ok(h.lines.some((line) => line.includes("malformed part")));
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: a text error message is counted in /status and the feed stays Live", async () => {
  await using h = await startFaultHarness();
  const { daemon } = h;
  const live = await reach(daemon, "Live", liveOn(h.startToken));

  const sent = performance.now();
  assert.deepEqual(await simControl(h.sim, "text-error"), { sent: 1 });
  await reach(daemon, "the text error counted", (s) => s.textErrorsTotal === 1);
  report("text error message", "error message → counted", since(sent));
  await ticksResume(daemon, Date.now());
  const status = await assertServes(daemon, "Live");
  assert.equal(status.connection.text_errors_total, 1);
  assert.equal(daemon.actor.snapshot().gen, live.snapshot.gen, "the same socket");
  assert.equal(status.connection.reconnects_total, 0);
  assert.ok(h.lines.some((line) => line.includes("Simulated error from the ticker")));
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: upgrades refused for a while → Reconnecting with backoff, Live once they are taken", async () => {
  // The issue's 10 s window, scaled down with the backoff (base 20 ms, cap 100 ms).
  const refuseMs = 600;
  await using h = await startFaultHarness();
  const { daemon } = h;
  const live = await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  let maxAttempts = 0;
  const unsubscribe = daemon.actor.subscribe((s) => {
    maxAttempts = Math.max(maxAttempts, s.attempts);
  });
  const before = h.sim.stats().handshakes;
  const refused = performance.now();
  const refusedAt = Date.now();
  await simControl(h.sim, `refuse?ms=${refuseMs}`);
  await simControl(h.sim, "drop");
  const reconnecting = await reach(daemon, "a refused handshake", (s) => {
    return s.state.name === "Reconnecting" && s.attempts >= 2;
  });
  assert.match(errorText(reconnecting.snapshot), /^network: .*503/);
  const status = await assertServes(daemon, "Reconnecting");
  assert.ok(status.connection.attempts >= 2);
  const again = await reach(daemon, "Live after the refusals", (s) => {
    return s.state.name === "Live" && s.gen > live.snapshot.gen;
  }, { timeoutMs: 5_000 });
  unsubscribe();
  const after = h.sim.stats().handshakes;
  const refusals = after.rejected - before.rejected;
  report(
    "upgrades refused",
    `${refuseMs} ms refusal → Live (${refusals} refused handshakes)`,
    since(refused),
  );
  assert.ok(refusals >= 2, `several handshakes were refused (${refusals})`);
  assert.equal(after.accepted - before.accepted, 1, "one accepted handshake, once it was over");
  assert.equal(maxAttempts, refusals + 1, "the drop and each refusal counted as an attempt");
  assert.equal(
    again.snapshot.reconnectsTotal - live.snapshot.reconnectsTotal,
    refusals + 1,
    "one handshake per backoff, none in parallel",
  );
  assert.equal(again.snapshot.attempts, 0);
  await assertNothingLost(h, refusedAt);
  await assertServes(daemon, "Live");
});

/** A TCP server that accepts and never answers; tracks how many connections it holds. */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const stats = { accepted: 0, open: 0, maxOpen: 0 };
  const handled: Promise<void>[] = [];
  async function hold(conn: Deno.Conn): Promise<void> {
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    const buffer = new Uint8Array(4096);
    try {
      while ((await conn.read(buffer)) !== null) {
        // Swallow the upgrade request; never answer.
      }
    } catch {
      // Reset by the peer: it is gone either way.
    }
    stats.open--;
    conns.delete(conn);
    try {
      conn.close();
    } catch {
      // Closed by close() below.
    }
  }
  const accepting = (async () => {
    for await (const conn of listener) {
      stats.accepted++;
      conns.add(conn);
      handled.push(hold(conn));
    }
  })();
  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/ws`,
    stats,
    async close(): Promise<void> {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await Promise.all(handled);
    },
  };
}

Deno.test("fault: a slow handshake (TCP accepted, no answer) times out → Reconnecting, never Live", async () => {
  // The issue's 10 s limit, scaled down: the handshake times out at 150 ms, well before the
  // 5 s watchdog, so the timeout is what fires.
  const server = silentServer();
  try {
    await using h = await startFaultHarness({
      tickerUrl: server.url,
      handshakeTimeoutMs: 150,
      config: { stallMs: 5_000 },
    });
    const { daemon } = h;
    let wentLive = false;
    const unsubscribe = daemon.actor.subscribe((s) => {
      if (s.state.name === "Live") wentLive = true;
    });
    const start = performance.now();
    const first = await reach(daemon, "the first timeout", (s) => s.attempts >= 1);
    report("slow handshake", "handshake → timed out", since(start));
    assert.match(errorText(first.snapshot), /^network: Handshake timed out after 150 ms$/);
    await reach(daemon, "three timed-out attempts", (s) => s.attempts >= 3);
    report("slow handshake", "start → 3 timed-out attempts", since(start));
    const status = await assertServes(daemon, "Reconnecting");
    assert.match(status.connection.last_error ?? "", /Handshake timed out/);
    unsubscribe();
    assert.equal(wentLive, false);
    assert.ok(server.stats.accepted >= 3, `each attempt reached the server`);
    assert.equal(server.stats.maxOpen, 1, "at most one socket opening at a time");
    assert.equal(await Deno.readTextFile(h.envFile), h.startText);
  } finally {
    await server.close();
  }
});

Deno.test("fault: an unresolvable ticker host → Reconnecting with backoff, still serving", async () => {
  // DNS may be slow where a resolver is reachable: the handshake limit bounds each attempt.
  await using h = await startFaultHarness({
    tickerUrl: "ws://kitekeeper-no-such-host.invalid/ws",
    handshakeTimeoutMs: 1_000,
  });
  const { daemon } = h;
  let wentLive = false;
  const unsubscribe = daemon.actor.subscribe((s) => {
    if (s.state.name === "Live") wentLive = true;
  });
  const start = performance.now();
  const failed = await reach(daemon, "three failed attempts", (s) => s.attempts >= 3);
  report("unresolvable ticker host", "start → 3 failed attempts", since(start));
  unsubscribe();
  assert.equal(failed.snapshot.state.name, "Reconnecting");
  assert.match(errorText(failed.snapshot), /^network: /);
  assert.equal(wentLive, false);
  const status = await assertServes(daemon, "Reconnecting");
  assert.equal(status.token?.fingerprint, failed.snapshot.token?.fingerprint);
  assert.equal(h.sim.stats().handshakes.accepted + h.sim.stats().handshakes.rejected, 0);
  assert.equal(await Deno.readTextFile(h.envFile), h.startText, ".env untouched");
});

Deno.test("fault: the simulator killed and started again → Reconnecting, then its 403 → Expired, a new token → Live", async () => {
  // Kite's restarts keep sessions; the simulator's live in memory, so a new simulator does not
  // know the old token: the worst case, where the daemon must stop after one 403 and wait
  // for a login. (A restart that keeps the token is the "upgrades refused" row.)
  await using h = await startFaultHarness();
  const { daemon } = h;
  await reach(daemon, "Live", liveOn(h.startToken));
  await ticksResume(daemon, Date.now());

  const killed = performance.now();
  await h.killSimulator();
  await reach(daemon, "connection refused twice", (s) => {
    return s.state.name === "Reconnecting" && s.attempts >= 3;
  });
  report("simulator killed and restarted", "kill → 3 failed attempts", since(killed));
  assert.match(errorText(daemon.actor.snapshot()), /^network: /);
  await assertServes(daemon, "Reconnecting");

  const restarted = performance.now();
  const sim = await h.restartSimulator();
  const expired = await reach(daemon, "Expired on the new simulator", (s) => {
    return s.state.name === "Expired";
  });
  report("simulator killed and restarted", "restart → Expired", since(restarted));
  assert.equal(
    expired.snapshot.state.name === "Expired" && expired.snapshot.state.reason,
    "token rejected",
  );
  await witness(sim, SIX_BACKOFF_CAPS);
  assert.equal(sim.stats().handshakes.rejected, 1, "one 403, no retry storm");
  await assertServes(daemon, "Expired");

  const fresh = sim.issueAccessToken();
  const edited = performance.now();
  await renameSave(h.envFile, fresh);
  await reach(daemon, "Live on the new simulator", liveOn(fresh));
  report("simulator killed and restarted", "new token → Live", since(edited));
  await assertNothingLost(h, Date.now());
  await assertServes(daemon, "Live");
});
