import assert from "node:assert/strict";
import fc from "fast-check";
import type { Mode } from "../../../src/kite/packets.ts";
import {
  type Effect,
  type Event,
  initialSnapshot,
  MAX_SHARDS,
  type ShardIndex,
  type ShardPlan,
  type Snapshot,
  type StateName,
  type TokenSource,
  transition,
  TRANSITIONS,
  wantsSocket,
} from "../../../src/lifecycle/machine.ts";

// 2024-03-11 09:30 IST; the token's expected expiry is 2024-03-12 06:00 IST (00:30 UTC).
const T0 = Date.UTC(2024, 2, 11, 4, 0);
const EXPIRY = Date.UTC(2024, 2, 12, 0, 30);
const SUBSCRIPTIONS = { tokens: [256265, 260105], mode: "full" } as const;
const A = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };
const B = { token: "b".repeat(32), fingerprint: "bbbbbbbbbbb2" };
const C = { token: "c".repeat(32), fingerprint: "ccccccccccc3" };

function plan(tokens: readonly number[], mode: Mode): ShardPlan {
  return { instruments: new Map(tokens.map((token) => [token, mode])) };
}

function loaded(token: typeof A, source: TokenSource = "file"): Event {
  return { type: "TokenLoaded", ...token, source };
}

/** A snapshot, the time of its last event and that event's effects. */
interface At {
  readonly snapshot: Snapshot;
  readonly now: number;
  readonly effects: readonly Effect[];
}

/** Applies `events` one after another, each `gap` ms after the previous, with random 0.5. */
function play(start: At, events: readonly Event[], gap = 100): At {
  let { snapshot, now } = start;
  const effects: Effect[] = [];
  for (const event of events) {
    now += gap;
    const next = transition(snapshot, event, { now, random: 0.5 });
    snapshot = next.snapshot;
    effects.push(...next.effects);
  }
  return { snapshot, now, effects };
}

function step(at: At, event: Event, ms: number, random = 0.5): At {
  const now = at.now + ms;
  const next = transition(at.snapshot, event, { now, random });
  return { snapshot: next.snapshot, now, effects: next.effects };
}

/** Effects without the log lines, as short labels: `StartTimer:retry`, `OpenSocket`. */
function labels(effects: readonly Effect[]): string {
  return effects.filter((e) => e.type !== "Log")
    .map((e) => "timer" in e ? `${e.type}:${e.timer}` : e.type).join(" ");
}

function logs(effects: readonly Effect[]): string[] {
  return effects.flatMap((e) => e.type === "Log" ? [e.message] : []);
}

function start(options = {}): At {
  const snapshot = initialSnapshot(T0, { subscriptions: SUBSCRIPTIONS, ...options });
  return { snapshot, now: T0, effects: [] };
}

/** One snapshot per state (and sub-case), each reached from the start by real events. */
function fixtures(): Record<string, At> {
  const disconnected = start();
  // Token A: gen 1 fails on the network, the retry opens gen 2.
  const reconnectingOpening = play(disconnected, [
    loaded(A),
    { type: "SocketFailed", gen: 1, kind: "network", detail: "ECONNRESET" },
    { type: "RetryDue", shard: 0 },
  ], 1_000);
  const reconnectingOpen = play(reconnectingOpening, [{ type: "SocketOpened", gen: 2 }]);
  const live = play(reconnectingOpen, [{ type: "DataReceived", gen: 2 }]);
  const reconnectingBackoff = play(live, [
    { type: "SocketFailed", gen: 2, kind: "network", detail: "ECONNRESET" },
  ]);
  // A 403 on the handshake is a question: the probe (in flight since the token loaded) answers.
  const reconnectingRefused = play(reconnectingOpening, [
    { type: "SocketFailed", gen: 2, kind: "auth", detail: "HTTP 403" },
  ]);
  const expired = play(reconnectingRefused, [
    { type: "ProbeResult", fingerprint: A.fingerprint, result: "auth", detail: "TokenException" },
  ]);
  // The probe finds the token dead while the socket streams: Live on a dead token.
  const liveDead = play(live, [
    { type: "ProbeResult", fingerprint: A.fingerprint, result: "auth", detail: "TokenException" },
  ]);
  const expiredNoToken = play(disconnected, [
    { type: "TokenInvalid", source: "startup", detail: "empty" },
  ]);
  const stopped = play(live, [{ type: "Stop" }]);
  return {
    disconnected,
    reconnectingOpening,
    reconnectingOpen,
    reconnectingBackoff,
    reconnectingRefused,
    live,
    liveDead,
    expired,
    expiredNoToken,
    stopped,
  };
}

/** One sample of every event, aimed at the fixture's current socket and token. */
function samples(s: Snapshot): Record<string, Event> {
  const gen = s.shards[0]?.socket?.gen ?? s.gen;
  const fingerprint = s.token?.fingerprint ?? A.fingerprint;
  return {
    newToken: loaded(B),
    sameToken: loaded(s.token?.token === B.token ? B : A),
    invalid: { type: "TokenInvalid", source: "file", detail: "empty value" },
    opened: { type: "SocketOpened", gen },
    data: { type: "DataReceived", gen },
    network: { type: "SocketFailed", gen, kind: "network", detail: "ECONNRESET" },
    auth: { type: "SocketFailed", gen, kind: "auth", detail: "HTTP 403" },
    staleGen: { type: "SocketFailed", gen: gen - 1, kind: "network", detail: "old" },
    retry: { type: "RetryDue", shard: 0 },
    watchdog: { type: "WatchdogDue", shard: 0 },
    expiry: { type: "ExpiryDue" },
    probeOk: { type: "ProbeResult", fingerprint, result: "ok", userId: "AB1234" },
    probeAuth: { type: "ProbeResult", fingerprint, result: "auth", detail: "HTTP 403" },
    probeWrongUser: { type: "ProbeResult", fingerprint, result: "wrong_user", userId: "ZZ9" },
    probeError: { type: "ProbeResult", fingerprint, result: "error", detail: "timeout" },
    textError: { type: "TextError", gen, message: "Invalid instrument" },
    plan: {
      type: "PlanChanged",
      plan: [plan(SUBSCRIPTIONS.tokens, "full"), plan([5633], "quote")],
    },
    remind: { type: "RemindDue" },
    stop: { type: "Stop" },
  };
}

const OPEN_NEW = "OpenSocket StartTimer:watchdog:0 Probe StartTimer:expiry";
const TO_BACKOFF = "Reconnecting: CloseSocket CancelTimer:watchdog:0 StartTimer:retry:0";
const ASK = "Reconnecting: CloseSocket CancelTimer:watchdog:0"; // the load's probe is in flight
const KILL_OPEN =
  "Expired: CloseSocket CancelTimer:watchdog:0 CancelTimer:expiry NotifyLoginNeeded StartTimer:remind";
const STOP_OPEN = "Disconnected: CloseSocket CancelTimer:watchdog:0 CancelTimer:expiry";
const OPEN_SHARD_1 = "Reconnecting: OpenSocket StartTimer:watchdog:1";
const KILL_BACKOFF =
  "Expired: CancelTimer:retry:0 CancelTimer:expiry NotifyLoginNeeded StartTimer:remind";
const KILL_DEAD = "Expired: CloseSocket CancelTimer:watchdog:0"; // the login was asked already

/** Expected `state: effects` a minute after each fixture; absent cells mean "unchanged, no effects". */
const CELLS: Record<string, Record<string, string>> = {
  disconnected: {
    newToken: `Reconnecting: ${OPEN_NEW}`,
    sameToken: `Reconnecting: ${OPEN_NEW}`,
    invalid: "Expired: NotifyLoginNeeded StartTimer:remind",
    stop: "Disconnected: ",
  },
  reconnectingOpening: {
    newToken: `Reconnecting: CloseSocket CancelTimer:watchdog:0 ${OPEN_NEW}`,
    opened: "Reconnecting: Subscribe",
    network: TO_BACKOFF,
    auth: ASK,
    watchdog: TO_BACKOFF, // no handshake for a minute: a stall
    expiry: "Reconnecting: StartTimer:expiry", // not due yet: re-armed
    probeAuth: KILL_OPEN,
    probeWrongUser: KILL_OPEN,
    // Gen 1 never opened: shard 1 waits for a handshake that succeeds.
    plan: "Reconnecting: ",
    stop: STOP_OPEN,
  },
  reconnectingOpen: {
    newToken: `Reconnecting: CloseSocket CancelTimer:watchdog:0 ${OPEN_NEW}`,
    data: "Live: ",
    network: TO_BACKOFF,
    auth: ASK,
    watchdog: TO_BACKOFF,
    expiry: "Reconnecting: StartTimer:expiry",
    probeAuth: KILL_OPEN,
    probeWrongUser: KILL_OPEN,
    plan: OPEN_SHARD_1,
    stop: STOP_OPEN,
  },
  reconnectingBackoff: {
    newToken: `Reconnecting: CancelTimer:retry:0 ${OPEN_NEW}`,
    retry: "Reconnecting: OpenSocket StartTimer:watchdog:0",
    expiry: "Reconnecting: StartTimer:expiry",
    probeAuth: KILL_BACKOFF,
    probeWrongUser: KILL_BACKOFF,
    plan: OPEN_SHARD_1, // the token was accepted on gen 2: shard 1 need not wait for shard 0
    stop: "Disconnected: CancelTimer:retry:0 CancelTimer:expiry",
  },
  reconnectingRefused: {
    newToken: `Reconnecting: ${OPEN_NEW}`,
    expiry: "Reconnecting: StartTimer:expiry",
    // Alive after all: a transient refusal, backed off; no login asked for.
    probeOk: "Reconnecting: StartTimer:retry:0",
    probeAuth: "Expired: CancelTimer:expiry NotifyLoginNeeded StartTimer:remind",
    probeWrongUser: "Expired: CancelTimer:expiry NotifyLoginNeeded StartTimer:remind",
    // Kite could not be asked: back off and ask again after the next refusal.
    probeError: "Reconnecting: StartTimer:retry:0",
    stop: "Disconnected: CancelTimer:expiry",
  },
  live: {
    newToken: `Reconnecting: CloseSocket CancelTimer:watchdog:0 ${OPEN_NEW}`,
    network: TO_BACKOFF,
    auth: "Reconnecting: CloseSocket CancelTimer:watchdog:0",
    watchdog: TO_BACKOFF, // no data for a minute
    expiry: "Live: StartTimer:expiry",
    // A dead token is not a dead feed: stay Live, stop probing, ask for a login once.
    probeAuth: "Live: CancelTimer:expiry NotifyLoginNeeded StartTimer:remind",
    probeWrongUser: KILL_OPEN,
    plan: OPEN_SHARD_1, // Live needs every shard with a plan streaming
    stop: STOP_OPEN,
  },
  liveDead: {
    newToken: `Reconnecting: CloseSocket CancelTimer:watchdog:0 ${OPEN_NEW} CancelTimer:remind`,
    // The first socket to end ends the feed: no handshake on a token Kite rejects.
    network: KILL_DEAD,
    auth: KILL_DEAD,
    watchdog: KILL_DEAD,
    probeWrongUser: KILL_DEAD,
    plan: KILL_DEAD, // a shard to open, on a dead token
    remind: "Live: StartTimer:remind", // not due yet: re-armed
    stop: "Disconnected: CloseSocket CancelTimer:watchdog:0 CancelTimer:remind",
  },
  expired: {
    newToken: `Reconnecting: ${OPEN_NEW} CancelTimer:remind`,
    remind: "Expired: StartTimer:remind",
    stop: "Disconnected: CancelTimer:remind",
  },
  expiredNoToken: {
    newToken: `Reconnecting: ${OPEN_NEW} CancelTimer:remind`,
    sameToken: `Reconnecting: ${OPEN_NEW} CancelTimer:remind`,
    remind: "Expired: StartTimer:remind",
    stop: "Disconnected: CancelTimer:remind",
  },
  stopped: {},
};

Deno.test("transition() gives the expected state and effects in every state × event cell", () => {
  const all = fixtures();
  assert.deepEqual(Object.keys(all), Object.keys(CELLS));
  let cells = 0;
  for (const [name, at] of Object.entries(all)) {
    for (const [eventName, event] of Object.entries(samples(at.snapshot))) {
      const next = step(at, event, 60_000);
      const unchanged = `${at.snapshot.state.name}: `;
      const expected = CELLS[name]?.[eventName] ?? unchanged;
      assert.equal(
        `${next.snapshot.state.name}: ${labels(next.effects)}`,
        expected,
        `${name} × ${eventName}`,
      );
      cells++;
    }
  }
  assert.equal(cells, 10 * 19);
});

Deno.test("TRANSITIONS names exactly the four states and only real event types", () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [
    "Disconnected",
    "Expired",
    "Live",
    "Reconnecting",
  ]);
  const types = new Set(Object.values(samples(start().snapshot)).map((e) => e.type));
  for (const row of Object.values(TRANSITIONS)) {
    for (const type of Object.keys(row)) assert.ok(types.has(type as Event["type"]), type);
  }
});

Deno.test("every state is reachable from the start, and every state but 'stopped' can be left", () => {
  // Breadth-first over snapshots, three events deep, from the starting snapshot.
  const reached = new Set<StateName>();
  const leaves = new Set<StateName>();
  let frontier: At[] = [start()];
  for (let depth = 0; depth < 4; depth++) {
    const next: At[] = [];
    for (const at of frontier) {
      reached.add(at.snapshot.state.name);
      for (const event of Object.values(samples(at.snapshot))) {
        const after = step(at, event, event.type === "RetryDue" ? 60_000 : 10);
        if (after.snapshot.state.name !== at.snapshot.state.name) {
          leaves.add(at.snapshot.state.name);
        }
        if (after.snapshot !== at.snapshot) next.push(after);
      }
    }
    frontier = next;
  }
  for (const at of frontier) reached.add(at.snapshot.state.name);
  const all: StateName[] = ["Disconnected", "Expired", "Live", "Reconnecting"];
  assert.deepEqual([...reached].sort(), all);
  assert.deepEqual([...leaves].sort(), all);
});

Deno.test("a new token opens gen+1, probes it, and replays subscriptions once the socket opens", () => {
  const first = step(start(), loaded(A, "startup"), 0);
  assert.deepEqual(first.effects.slice(0, 3), [
    { type: "OpenSocket", token: A.token, fingerprint: A.fingerprint, gen: 1, shard: 0 },
    { type: "StartTimer", timer: "watchdog:0", ms: 5_000 },
    { type: "Probe", token: A.token, fingerprint: A.fingerprint },
  ]);
  assert.deepEqual(first.snapshot.token, { ...A, source: "startup", loadedAt: T0 });
  assert.equal(first.snapshot.expectedExpiry, EXPIRY);
  const opened = step(first, { type: "SocketOpened", gen: 1 }, 40);
  assert.deepEqual(opened.effects, [{ type: "Subscribe", gen: 1, ...SUBSCRIPTIONS }]);
  const live = step(opened, { type: "DataReceived", gen: 1 }, 1);
  assert.equal(live.snapshot.state.name, "Live");
  assert.deepEqual(logs(live.effects), ["Reconnecting → Live in 41 ms"]);
  assert.equal(live.snapshot.lastDataAt, T0 + 41);

  // Rotation while Live: the old socket closes before the new one opens.
  const rotated = step(live, loaded(B, "callback"), 1_000);
  assert.deepEqual(rotated.effects.slice(0, 3), [
    { type: "CloseSocket", gen: 1 },
    { type: "CancelTimer", timer: "watchdog:0" },
    { type: "OpenSocket", token: B.token, fingerprint: B.fingerprint, gen: 2, shard: 0 },
  ]);
  assert.equal(rotated.snapshot.state.name, "Reconnecting");
  assert.equal(rotated.snapshot.reconnectsTotal, 1);
  // Late news from gen 1 changes nothing.
  for (
    const event of [
      { type: "DataReceived", gen: 1 },
      { type: "SocketFailed", gen: 1, kind: "auth", detail: "HTTP 403" },
      { type: "SocketOpened", gen: 1 },
      { type: "TextError", gen: 1, message: "x" },
    ] as const
  ) {
    const late = step(rotated, event, 5);
    assert.equal(late.snapshot, rotated.snapshot, event.type);
    assert.deepEqual(late.effects, [], event.type);
  }
  const reopened = step(rotated, { type: "SocketOpened", gen: 2 }, 30);
  assert.deepEqual(reopened.effects, [{ type: "Subscribe", gen: 2, ...SUBSCRIPTIONS }]);
});

Deno.test("transition() does nothing at all for the token it already has", () => {
  const { live } = fixtures();
  for (const source of ["file", "signal", "startup"] as const) {
    const again = step(live!, { type: "TokenLoaded", ...A, source }, 10);
    assert.equal(again.snapshot, live!.snapshot);
    assert.deepEqual(again.effects, []);
  }
  // A login's write read back before the login's own hand-over: only the source moves.
  const fromLogin = step(live!, { type: "TokenLoaded", ...A, source: "callback" }, 10);
  assert.deepEqual(fromLogin.effects, []);
  assert.equal(fromLogin.snapshot.token?.source, "callback");
  assert.equal(fromLogin.snapshot.state, live!.snapshot.state);
  assert.equal(fromLogin.snapshot.shards, live!.snapshot.shards);
});

Deno.test("network failures back off with growing full-jitter ceilings, reset once Live", () => {
  let at: At = step(start({ backoffBaseMs: 100, backoffCapMs: 1_000 }), loaded(A), 0);
  const delays: number[] = [];
  for (let gen = 1; gen <= 6; gen++) {
    const failed = step(
      at,
      { type: "SocketFailed", gen, kind: "network", detail: "refused" },
      10,
      0.999,
    );
    const timer = failed.effects.find((e) => e.type === "StartTimer" && e.timer === "retry:0");
    assert.ok(timer && timer.type === "StartTimer");
    delays.push(timer.ms);
    assert.equal(failed.snapshot.attempts, gen);
    assert.equal(
      failed.snapshot.state.name === "Reconnecting" && failed.snapshot.state.attempt,
      gen + 1,
    );
    at = step(failed, { type: "RetryDue", shard: 0 }, timer.ms);
    assert.ok(at.effects.some((e) => e.type === "OpenSocket" && e.gen === gen + 1));
  }
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999]);
  assert.equal(at.snapshot.reconnectsTotal, 6);
  const live = play(at, [{ type: "SocketOpened", gen: 7 }, { type: "DataReceived", gen: 7 }]);
  assert.equal(live.snapshot.attempts, 0);
  const failedAgain = step(
    live,
    { type: "SocketFailed", gen: 7, kind: "network", detail: "x" },
    10,
    0.999,
  );
  assert.ok(failedAgain.effects.some((e) => e.type === "StartTimer" && e.ms === 99));
  // Retries keep the outage's `since`; leaving Live starts a new outage.
  assert.equal(at.snapshot.state.since, T0);
  assert.equal(failedAgain.snapshot.state.since, failedAgain.now);
});

Deno.test("a RetryDue that fires early re-arms the timer for the rest of the backoff", () => {
  const failed = step(
    step(start(), loaded(A), 0),
    {
      type: "SocketFailed",
      gen: 1,
      kind: "network",
      detail: "x",
    },
    0,
    0.8,
  ); // delay 200
  const early = step(failed, { type: "RetryDue", shard: 0 }, 150);
  assert.deepEqual(early.effects, [{ type: "StartTimer", timer: "retry:0", ms: 50 }]);
  assert.equal(early.snapshot, failed.snapshot);
});

Deno.test("the watchdog re-arms for the rest of the quiet window and calls a stall at 5 s", () => {
  const { live } = fixtures();
  const fed = step(live!, { type: "DataReceived", gen: 2 }, 3_000);
  const check = step(fed, { type: "WatchdogDue", shard: 0 }, 2_000);
  assert.deepEqual(check.effects, [{ type: "StartTimer", timer: "watchdog:0", ms: 3_000 }]);
  const stalled = step(check, { type: "WatchdogDue", shard: 0 }, 3_000);
  assert.equal(stalled.snapshot.state.name, "Reconnecting");
  assert.deepEqual(stalled.snapshot.lastError, { kind: "stall", detail: "no data for 5000 ms" });
  assert.deepEqual(logs(stalled.effects), [
    "Shard 0 failed (stall: no data for 5000 ms); retrying in 125 ms (attempt 2)",
    "Live → Reconnecting: stall: no data for 5000 ms",
  ]);
  assert.ok(stalled.effects.some((e) => e.type === "CloseSocket" && e.gen === 2));
});

Deno.test("a handshake that never completes counts as a stall", () => {
  const opening = step(start({ stallMs: 2_000 }), loaded(A), 0);
  assert.ok(opening.effects.some((e) => e.type === "StartTimer" && e.ms === 2_000));
  const stalled = step(opening, { type: "WatchdogDue", shard: 0 }, 2_000);
  assert.deepEqual(stalled.snapshot.lastError, {
    kind: "stall",
    detail: "no handshake for 2000 ms",
  });
  assert.equal(stalled.snapshot.shards[0]?.socket, null);
});

Deno.test("a probe naming the wrong user expires the token; a probe error changes nothing", () => {
  const { live } = fixtures();
  const error = step(live!, {
    type: "ProbeResult",
    fingerprint: A.fingerprint,
    result: "error",
    detail: "timeout",
  }, 5);
  assert.equal(error.snapshot.state, live!.snapshot.state);
  assert.deepEqual(labels(error.effects), "");
  assert.deepEqual(logs(error.effects), [`Probe of token ${A.fingerprint} failed: timeout`]);
  const wrong = step(live!, {
    type: "ProbeResult",
    fingerprint: A.fingerprint,
    result: "wrong_user",
    userId: "ZZ9",
  }, 5);
  assert.equal(wrong.snapshot.state.name, "Expired");
  assert.equal(
    wrong.snapshot.state.name === "Expired" && wrong.snapshot.state.reason,
    "wrong user",
  );
  assert.equal(wrong.snapshot.userId, "ZZ9");
  assert.ok(wrong.effects.some((e) => e.type === "NotifyLoginNeeded" && e.reason === "wrong user"));
  // A probe about some other token is old news.
  const other = step(live!, { type: "ProbeResult", fingerprint: B.fingerprint, result: "auth" }, 5);
  assert.equal(other.snapshot, live!.snapshot);
});

Deno.test("no token at start expires with 'no token'; a bad token later never drops the feed", () => {
  const none = step(start(), {
    type: "TokenInvalid",
    source: "startup",
    detail: "KITE_ACCESS_TOKEN is empty",
  }, 0);
  assert.deepEqual(none.snapshot.state, {
    name: "Expired",
    since: T0,
    reason: "no token",
    fingerprint: null,
  });
  assert.equal(none.snapshot.loginNeeded, true);
  assert.deepEqual(none.effects.filter((e) => e.type === "NotifyLoginNeeded"), [
    { type: "NotifyLoginNeeded", reason: "no token" },
  ]);
  const { live } = fixtures();
  const bad = step(
    live!,
    { type: "TokenInvalid", source: "file", detail: "not 32 alphanumerics" },
    5,
  );
  assert.equal(bad.snapshot.state, live!.snapshot.state);
  assert.equal(bad.snapshot.shards, live!.snapshot.shards);
  assert.equal(bad.snapshot.token, live!.snapshot.token);
  assert.deepEqual(bad.snapshot.invalidToken, {
    source: "file",
    detail: "not 32 alphanumerics",
    at: bad.now,
  });
  assert.deepEqual(labels(bad.effects), "");
  assert.deepEqual(logs(bad.effects), [
    `Unusable token from file (not 32 alphanumerics); keeping token ${A.fingerprint}`,
  ]);
  // The next good token clears the note.
  assert.equal(step(bad, loaded(B), 5).snapshot.invalidToken, null);
});

Deno.test("text errors from Kite are counted and logged without touching the feed", () => {
  const { live } = fixtures();
  const once = step(live!, { type: "TextError", gen: 2, message: "Invalid mode" }, 5);
  const twice = step(once, { type: "TextError", gen: 2, message: "Invalid mode" }, 5);
  assert.equal(twice.snapshot.textErrorsTotal, 2);
  assert.equal(twice.snapshot.state, live!.snapshot.state);
  assert.deepEqual(logs(twice.effects), ["Kite sent an error on gen 2: Invalid mode"]);
});

Deno.test("after Stop every event is ignored", () => {
  const { stopped } = fixtures();
  assert.deepEqual(stopped!.snapshot.state, {
    name: "Disconnected",
    since: stopped!.now,
    reason: "stopped",
  });
  for (const event of [...Object.values(samples(stopped!.snapshot)), loaded(C)]) {
    const next = step(stopped!, event, 60_000);
    assert.equal(next.snapshot, stopped!.snapshot, event.type);
    assert.deepEqual(next.effects, [], event.type);
  }
});

Deno.test("initialSnapshot() starts Disconnected and rejects bad settings", () => {
  const s = initialSnapshot(T0);
  assert.deepEqual(s.state, { name: "Disconnected", since: T0, reason: "no token yet" });
  assert.deepEqual(s.config, {
    backoffBaseMs: 250,
    backoffCapMs: 30_000,
    stallMs: 5_000,
    expiryAt: { hour: 6, minute: 0 },
    recheckAt: { hour: 7, minute: 35 },
    probeIntervalMs: 900_000,
    remindAt: [{ hour: 8, minute: 30 }, { hour: 8, minute: 50 }],
    holidays: new Set(),
  });
  assert.throws(() => initialSnapshot(T0, { remindAt: ["8.30"] }), SyntaxError);
  assert.throws(() => initialSnapshot(T0, { probeIntervalMs: -1 }), RangeError);
  assert.throws(() => initialSnapshot(T0, { stallMs: 0 }), RangeError);
  assert.throws(() => initialSnapshot(T0, { backoffBaseMs: Number.NaN }), RangeError);
  assert.throws(() => initialSnapshot(T0, { expiryAt: "6am" }), SyntaxError);
});

// ---- The upstream pool ----------------------------------------------------------------

/** The effects of type `type` among `effects`. */
function only<T extends Effect["type"]>(
  effects: readonly Effect[],
  type: T,
): Extract<Effect, { type: T }>[] {
  return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
}

/** The gen of shard `index`'s socket; fails when it has none. */
function genOf(at: At, index: ShardIndex): number {
  const gen = at.snapshot.shards[index]?.socket?.gen;
  assert.ok(gen !== undefined, `shard ${index} has a socket`);
  return gen;
}

/** Live on token A with three shards: 0 (NIFTY, BANKNIFTY full), 1 and 2 (one each). */
function livePool(): At {
  let at = step(start(), {
    type: "PlanChanged",
    plan: [plan(SUBSCRIPTIONS.tokens, "full"), plan([5633], "quote"), plan([738561], "ltp")],
  }, 0);
  at = step(at, loaded(A), 0);
  for (const index of [0, 1, 2] as const) {
    at = play(at, [{ type: "SocketOpened", gen: genOf(at, index) }], 10);
  }
  for (const index of [0, 1, 2] as const) {
    at = play(at, [{ type: "DataReceived", gen: genOf(at, index) }], 10);
  }
  assert.equal(at.snapshot.state.name, "Live");
  return at;
}

Deno.test("a new token opens shard 0 first, the others once Kite accepted it; each replays its plan", () => {
  const planned = step(start(), {
    type: "PlanChanged",
    plan: [plan([256265], "full"), plan([5633, 2885], "quote")],
  }, 0);
  assert.deepEqual(planned.effects, [], "no token: nothing opens");
  const first = step(planned, loaded(A), 10);
  assert.deepEqual(only(first.effects, "OpenSocket"), [
    { type: "OpenSocket", token: A.token, fingerprint: A.fingerprint, gen: 1, shard: 0 },
  ]);
  const opened = step(first, { type: "SocketOpened", gen: 1 }, 10);
  assert.deepEqual(opened.effects.filter((e) => e.type !== "Log"), [
    { type: "Subscribe", gen: 1, tokens: [256265], mode: "full" },
    { type: "OpenSocket", token: A.token, fingerprint: A.fingerprint, gen: 2, shard: 1 },
    { type: "StartTimer", timer: "watchdog:1", ms: 5_000 },
  ]);
  const fed0 = step(opened, { type: "DataReceived", gen: 1 }, 10);
  assert.equal(fed0.snapshot.state.name, "Reconnecting", "shard 1 is not streaming yet");
  const opened1 = step(fed0, { type: "SocketOpened", gen: 2 }, 10);
  assert.deepEqual(only(opened1.effects, "Subscribe"), [
    { type: "Subscribe", gen: 2, tokens: [5633, 2885], mode: "quote" },
  ]);
  const live = step(opened1, { type: "DataReceived", gen: 2 }, 10);
  assert.equal(live.snapshot.state.name, "Live");
  assert.equal(live.snapshot.state.name === "Live" && live.snapshot.state.gen, 2);

  // A new token closes every shard and reopens them, one handshake first, with replay.
  const rotated = step(live, loaded(B), 10);
  assert.deepEqual(only(rotated.effects, "CloseSocket").map((e) => e.gen), [1, 2]);
  assert.deepEqual(only(rotated.effects, "OpenSocket").map((e) => [e.shard, e.gen]), [[0, 3]]);
  const reopened = step(rotated, { type: "SocketOpened", gen: 3 }, 10);
  assert.deepEqual(only(reopened.effects, "Subscribe"), [
    { type: "Subscribe", gen: 3, tokens: [256265], mode: "full" },
  ]);
  assert.deepEqual(only(reopened.effects, "OpenSocket").map((e) => [e.shard, e.gen]), [[1, 4]]);
  assert.equal(reopened.snapshot.reconnectsTotal, 2);
});

Deno.test("PlanChanged diffs each open shard: unsubscribe, subscribe by mode, a mode drop resubscribes lower", () => {
  const live = livePool();
  const changed = step(live, {
    type: "PlanChanged",
    plan: [
      plan([256265, 260105], "quote"), // both drop from full to quote
      new Map([[5633, "quote"], [2885, "full"], [408065, "full"]]).size > 0
        ? {
          instruments: new Map<number, Mode>([[5633, "quote"], [2885, "full"], [408065, "full"]]),
        }
        : plan([], "quote"),
      plan([], "ltp"), // shard 2 has nothing left: its socket closes
    ],
  }, 10);
  assert.deepEqual(changed.effects.filter((e) => e.type !== "Log"), [
    { type: "Subscribe", gen: 1, tokens: [256265, 260105], mode: "quote" },
    { type: "Subscribe", gen: 2, tokens: [2885, 408065], mode: "full" },
    { type: "CloseSocket", gen: 3 },
    { type: "CancelTimer", timer: "watchdog:2" },
  ]);
  assert.equal(changed.snapshot.state.name, "Live", "the shards left are all streaming");
  const fewer = step(changed, {
    type: "PlanChanged",
    plan: [plan([256265], "quote"), plan([2885, 408065], "full")],
  }, 10);
  assert.deepEqual(fewer.effects, [
    { type: "Unsubscribe", gen: 1, tokens: [260105] },
    { type: "Unsubscribe", gen: 2, tokens: [5633] },
  ]);
  // The same plan again sends nothing.
  const same = step(fewer, {
    type: "PlanChanged",
    plan: [plan([256265], "quote"), plan([2885, 408065], "full"), plan([], "quote")],
  }, 10);
  assert.deepEqual(same.effects, []);
  // Shard 0 keeps its socket with an empty plan: its heartbeats keep the token checked.
  const empty = step(same, { type: "PlanChanged", plan: [] }, 10);
  assert.deepEqual(empty.effects.filter((e) => e.type !== "Log"), [
    { type: "Unsubscribe", gen: 1, tokens: [256265] },
    { type: "CloseSocket", gen: 2 },
    { type: "CancelTimer", timer: "watchdog:1" },
  ]);
  assert.equal(empty.snapshot.state.name, "Live");
  assert.notEqual(empty.snapshot.shards[0]?.socket, null);
});

Deno.test("a network fault or stall on one shard reconnects that shard only; the others stream on", () => {
  const live = livePool();
  const failed = step(live, { type: "SocketFailed", gen: 2, kind: "network", detail: "reset" }, 10);
  assert.equal(labels(failed.effects), "CloseSocket CancelTimer:watchdog:1 StartTimer:retry:1");
  assert.equal(failed.snapshot.state.name, "Reconnecting");
  assert.equal(failed.snapshot.shards[1]?.attempts, 1);
  assert.equal(failed.snapshot.shards[0]?.socket?.gen, 1, "shard 0 untouched");
  assert.equal(failed.snapshot.shards[2]?.socket?.gen, 3, "shard 2 untouched");
  // Data keeps flowing on the others meanwhile; it does not make the pool Live.
  const meanwhile = step(failed, { type: "DataReceived", gen: 3 }, 10);
  assert.equal(meanwhile.snapshot.state, failed.snapshot.state);
  // Shard 2 stalls too: its own backoff, its own timer.
  const stalled = step(meanwhile, { type: "WatchdogDue", shard: 2 }, 5_000);
  assert.equal(labels(stalled.effects), "CloseSocket CancelTimer:watchdog:2 StartTimer:retry:2");
  assert.equal(stalled.snapshot.shards[0]?.socket?.gen, 1);
  const retried = step(stalled, { type: "RetryDue", shard: 1 }, 1_000);
  assert.deepEqual(only(retried.effects, "OpenSocket").map((e) => [e.shard, e.gen]), [[1, 4]]);
  const back = play(retried, [
    { type: "SocketOpened", gen: 4 },
    { type: "DataReceived", gen: 4 },
    { type: "RetryDue", shard: 2 },
    { type: "SocketOpened", gen: 5 },
    { type: "DataReceived", gen: 5 },
  ], 10);
  assert.equal(back.snapshot.state.name, "Live");
  assert.deepEqual(back.snapshot.shards.map((shard) => shard.attempts), [0, 0, 0]);
  assert.deepEqual(only(back.effects, "Subscribe"), [
    { type: "Subscribe", gen: 4, tokens: [5633], mode: "quote" },
    { type: "Subscribe", gen: 5, tokens: [738561], mode: "ltp" },
  ]);
});

Deno.test("a refused handshake on any shard holds the pool; a dead token then stops all shards", () => {
  const live = livePool();
  const failed = step(live, { type: "SocketFailed", gen: 2, kind: "network", detail: "reset" }, 10);
  const dead = step(
    step(failed, { type: "RetryDue", shard: 1 }, 1_000),
    { type: "SocketFailed", gen: 4, kind: "auth", detail: "HTTP 403" },
    10,
  );
  assert.ok(dead.snapshot.refusal !== null);
  // A question first: no handshake, no new socket until the probe answers.
  assert.equal(dead.snapshot.state.name, "Reconnecting");
  assert.deepEqual(only(dead.effects, "CloseSocket").map((e) => e.gen), [4]);
  const idle = step(dead, { type: "RetryDue", shard: 1 }, 60_000);
  assert.deepEqual(only(idle.effects, "OpenSocket"), []);
  const gone = step(idle, {
    type: "ProbeResult",
    fingerprint: A.fingerprint,
    result: "auth",
    detail: "TokenException",
  }, 10);
  assert.deepEqual(only(gone.effects, "CloseSocket").map((e) => e.gen), [1, 3]);
  assert.equal(gone.snapshot.state.name, "Expired");
  assert.ok(gone.snapshot.shards.every((shard) => !shard.socket && shard.retryAt === null));
  assert.deepEqual(gone.snapshot.lastError, { kind: "probe", detail: "TokenException" });
});

Deno.test("events naming a superseded gen of any shard are dropped", () => {
  const live = livePool();
  const failed = step(live, { type: "SocketFailed", gen: 2, kind: "network", detail: "reset" }, 10);
  const retried = step(failed, { type: "RetryDue", shard: 1 }, 1_000);
  for (
    const event of [
      { type: "SocketOpened", gen: 2 },
      { type: "DataReceived", gen: 2 },
      { type: "SocketFailed", gen: 2, kind: "auth", detail: "HTTP 403" },
      { type: "TextError", gen: 2, message: "x" },
      { type: "DataReceived", gen: 99 },
    ] as const
  ) {
    const late = step(retried, event, 5);
    assert.equal(late.snapshot, retried.snapshot, `${event.type} ${event.gen}`);
    assert.deepEqual(late.effects, []);
  }
});

Deno.test("a plan past Kite's limits is refused with a log line and changes nothing", () => {
  const live = livePool();
  const big = plan(Array.from({ length: 3001 }, (_, i) => i + 1), "ltp");
  const four = [plan([1], "ltp"), plan([2], "ltp"), plan([3], "ltp"), plan([4], "ltp")];
  for (const bad of [[big], four]) {
    const refused = step(live, { type: "PlanChanged", plan: bad }, 10);
    assert.equal(refused.snapshot, live.snapshot);
    assert.equal(labels(refused.effects), "");
    assert.match(logs(refused.effects)[0] ?? "", /^Ignoring a plan of /);
  }
  assert.throws(() => initialSnapshot(T0, { plan: four }), RangeError);
});

Deno.test("configured instruments past 3000 fill the shards in order", () => {
  const tokens = Array.from({ length: 7000 }, (_, i) => i + 1);
  const s = initialSnapshot(T0, { subscriptions: { tokens, mode: "ltp" } });
  assert.deepEqual(s.shards.map((shard) => shard.plan.size), [3000, 3000, 1000]);
  assert.equal(s.shards[2]?.plan.get(7000), "ltp");
});

// ---- Properties over random event sequences -------------------------------------------

const TOKENS = [A, B, C];
const INSTRUMENTS = [256265, 260105, 5633, 2885, 408065];
const MODES: readonly Mode[] = ["ltp", "quote", "full"];

const shardPlanArb: fc.Arbitrary<ShardPlan> = fc.array(
  fc.tuple(fc.constantFrom(...INSTRUMENTS), fc.constantFrom(...MODES)),
  { maxLength: 4 },
).map((pairs) => ({ instruments: new Map(pairs) }));

const genArb = fc.integer({ min: 0, max: 14 });
const shardArb = fc.constantFrom<ShardIndex>(0, 1, 2);

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    i: fc.integer({ min: 0, max: 2 }),
    source: fc.constantFrom("file" as const, "callback" as const),
  }).map(({ i, source }): Event => ({ type: "TokenLoaded", ...TOKENS[i]!, source })),
  fc.constant<Event>({ type: "TokenInvalid", source: "file", detail: "empty" }),
  fc.array(shardPlanArb, { maxLength: MAX_SHARDS })
    .map((plan): Event => ({ type: "PlanChanged", plan })),
  genArb.map((gen): Event => ({ type: "SocketOpened", gen })),
  genArb.map((gen): Event => ({ type: "DataReceived", gen })),
  genArb.map((gen): Event => ({ type: "DataReceived", gen })),
  fc.record({
    gen: genArb,
    kind: fc.constantFrom("auth" as const, "network" as const, "stall" as const),
  }).map(({ gen, kind }): Event => ({ type: "SocketFailed", gen, kind, detail: "x" })),
  shardArb.map((shard): Event => ({ type: "RetryDue", shard })),
  shardArb.map((shard): Event => ({ type: "WatchdogDue", shard })),
  fc.constant<Event>({ type: "ExpiryDue" }),
  fc.record({
    i: fc.integer({ min: 0, max: 2 }),
    result: fc.constantFrom(
      "ok" as const,
      "auth" as const,
      "wrong_user" as const,
      "error" as const,
    ),
  }).map(({ i, result }): Event => ({
    type: "ProbeResult",
    fingerprint: TOKENS[i]!.fingerprint,
    result,
  })),
  genArb.map((gen): Event => ({ type: "TextError", gen, message: "m" })),
  fc.constant<Event>({ type: "Stop" }),
);

const runArb = fc.array(
  fc.record({
    event: eventArb,
    gap: fc.integer({ min: 0, max: 40_000_000 }).map((n) => n < 30_000_000 ? n % 10_000 : n),
    random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  }),
  { maxLength: 80 },
);

/** The sockets the effects left open, by gen: their shard and what was subscribed on them. */
type Opened = Map<number, { shard: ShardIndex; sent: Map<number, Mode> }>;

function apply(open: Opened, effect: Effect, rejected: ReadonlySet<string>): void {
  switch (effect.type) {
    case "OpenSocket":
      for (const socket of open.values()) {
        assert.notEqual(socket.shard, effect.shard, "a second socket on one shard");
      }
      assert.ok(open.size < MAX_SHARDS, "more sockets than Kite allows");
      assert.ok(!rejected.has(effect.fingerprint), "opened a socket with a rejected token");
      open.set(effect.gen, { shard: effect.shard, sent: new Map() });
      return;
    case "CloseSocket":
      open.delete(effect.gen);
      return;
    case "Subscribe": {
      const socket = open.get(effect.gen);
      assert.ok(socket, "subscribed on a socket that is not open");
      for (const token of effect.tokens) socket.sent.set(token, effect.mode);
      return;
    }
    case "Unsubscribe": {
      const socket = open.get(effect.gen);
      assert.ok(socket, "unsubscribed on a socket that is not open");
      for (const token of effect.tokens) {
        assert.ok(socket.sent.delete(token), "unsubscribed what was never subscribed");
      }
    }
  }
}

Deno.test("random event sequences keep the invariants, per shard and for the pool", () => {
  fc.assert(
    fc.property(fc.boolean(), runArb, (withToken, run) => {
      let at: At = withToken ? step(start(), loaded(A), 0) : start();
      const open: Opened = new Map();
      for (const effect of at.effects) apply(open, effect, new Set());
      const dead = new Set<string>();
      for (const { event, gap, random } of run) {
        const wasStopped = at.snapshot.state.name === "Disconnected" &&
          at.snapshot.state.reason === "stopped";
        const previous = at.snapshot;
        at = step(at, event, gap, random);
        const s = at.snapshot;
        if (wasStopped) assert.deepEqual(at.effects, []);
        if (event.type === "TokenLoaded" && previous.token?.token === event.token) {
          assert.deepEqual(at.effects, []);
        }
        // Events about a socket that is not current change nothing.
        if ("gen" in event && !previous.shards.some((shard) => shard.socket?.gen === event.gen)) {
          assert.equal(s, previous);
        }
        const rejected = new Set([...dead, ...previous.rejected]);
        for (const effect of at.effects) {
          apply(open, effect, rejected);
          if (effect.type === "StartTimer") assert.ok(effect.ms >= 0 && Number.isFinite(effect.ms));
          if (effect.type === "StartTimer" && effect.timer.startsWith("retry")) {
            assert.ok(effect.ms < s.config.backoffCapMs);
          }
          if (effect.type === "Log" || effect.type === "NotifyLoginNeeded") {
            const text = effect.type === "Log" ? effect.message : effect.reason;
            for (const { token } of TOKENS) {
              assert.ok(!text.includes(token), "a raw token in a message");
            }
          }
        }
        // The sockets the machine knows of are the ones its effects left open, and what
        // each has been sent is what its shard's snapshot says (its plan, once open).
        assert.equal(s.shards.length, MAX_SHARDS);
        const known = s.shards.flatMap((shard) => shard.socket ? [shard.socket.gen] : []);
        assert.deepEqual([...open.keys()].sort(), known.sort());
        for (const shard of s.shards) {
          if (!shard.socket) continue;
          assert.equal(open.get(shard.socket.gen)?.shard, shard.index);
          if (shard.socket.phase === "open") {
            assert.deepEqual(open.get(shard.socket.gen)?.sent, new Map(shard.plan));
          }
        }
        if (!s.accepted) {
          const opening = s.shards.filter((shard) => shard.socket?.phase === "opening");
          assert.ok(opening.length <= 1, "two handshakes before Kite accepted the token");
        }
        if (s.state.name === "Expired" && s.state.fingerprint) dead.add(s.state.fingerprint);
        const wanted = s.shards.filter(wantsSocket);
        switch (s.state.name) {
          case "Live":
            assert.ok(wanted.every((shard) => shard.socket?.phase === "open" && shard.socket.fed));
            assert.equal(s.attempts, 0);
            break;
          case "Reconnecting":
            assert.ok(
              wanted.some((shard) => !(shard.socket?.phase === "open" && shard.socket.fed)),
            );
            assert.equal(s.state.attempt, s.attempts + 1);
            for (const shard of s.shards) {
              assert.ok(!(shard.socket && shard.retryAt !== null), "a socket and a backoff");
              if (!wantsSocket(shard)) assert.ok(!shard.socket && shard.retryAt === null);
            }
            break;
          case "Expired":
          case "Disconnected":
            assert.equal(known.length, 0);
            assert.ok(s.shards.every((shard) => shard.retryAt === null));
        }
        if (s.state.name !== "Disconnected" && s.state.name !== "Expired") {
          assert.equal(s.state.fingerprint, s.token?.fingerprint);
        }
      }
    }),
    { numRuns: 500 },
  );
});

// ---- Real Kite semantics: a 403 is a question, a dead token is not a dead feed --------

/** `event` at the absolute instant `when`. */
function stepAt(at: At, event: Event, when: number): At {
  return step(at, event, when - at.now);
}

function probed(token: typeof A, result: "ok" | "auth" | "error", detail?: string): Event {
  return {
    type: "ProbeResult",
    fingerprint: token.fingerprint,
    result,
    ...(detail === undefined ? {} : { detail }),
  };
}

/** IST wall time on a March 2024 day, as epoch ms. */
function ist(day: number, hour: number, minute: number): number {
  return Date.UTC(2024, 2, day, hour, minute) - 330 * 60_000;
}

Deno.test("a handshake 403 asks the profile once: TokenException → Expired, one handshake and one probe", () => {
  let at = step(start(), loaded(A), 0); // the load probes the token alongside the handshake
  const all: Effect[] = [...at.effects];
  for (
    const event of [
      { type: "SocketFailed", gen: 1, kind: "auth", detail: "HTTP 403" },
      { type: "RetryDue", shard: 0 }, // a stray timer opens nothing while the question stands
      { type: "PlanChanged", plan: [plan([256265], "full"), plan([5633], "ltp")] },
    ] as const
  ) {
    at = step(at, event, 10);
    all.push(...at.effects);
  }
  assert.equal(at.snapshot.state.name, "Reconnecting");
  assert.equal(
    at.snapshot.state.name === "Reconnecting" && at.snapshot.state.reason,
    "Kite refused the handshake (HTTP 403); checking the token",
  );
  assert.equal(at.snapshot.loginNeeded, false, "no login asked for on a 403 alone");
  at = step(at, probed(A, "auth", "TokenException: Incorrect `api_key` or `access_token`."), 10);
  all.push(...at.effects);
  assert.equal(at.snapshot.state.name, "Expired");
  assert.equal(only(all, "OpenSocket").length, 1, "one handshake");
  assert.equal(only(all, "Probe").length, 1, "one probe");
  assert.equal(only(all, "NotifyLoginNeeded").length, 1);
  // The dead token again, from any source, opens nothing; a new one does.
  const again = step(at, loaded(A, "startup"), 10);
  assert.equal(again.snapshot, at.snapshot);
  assert.deepEqual(labels(again.effects), "");
  const withB = step(again, loaded(B), 10);
  assert.equal(withB.snapshot.state.name, "Reconnecting");
  assert.equal(withB.snapshot.loginNeeded, false);
});

Deno.test("a handshake 403 on a live token is a transient refusal: backoff with jitter, never a login", () => {
  let at = play(step(start(), loaded(A), 0), [probed(A, "ok")]);
  at = step(at, { type: "SocketFailed", gen: 1, kind: "auth", detail: "HTTP 403" }, 10);
  assert.deepEqual(only(at.effects, "Probe").length, 1, "asks, since no probe is in flight");
  at = step(at, probed(A, "ok"), 10, 0.5);
  assert.deepEqual(at.snapshot.lastError, {
    kind: "refused",
    detail: "Kite refused the ticker although the token is valid (HTTP 403)",
  });
  assert.equal(labels(at.effects), "StartTimer:retry:0");
  assert.equal(only(at.effects, "StartTimer")[0]?.ms, 125, "full jitter over the 250 ms base");
  assert.equal(at.snapshot.loginNeeded, false);
  assert.equal(at.snapshot.state.name, "Reconnecting");
  at = step(at, { type: "RetryDue", shard: 0 }, 125);
  assert.deepEqual(only(at.effects, "OpenSocket").map((e) => e.gen), [2]);
  at = play(at, [{ type: "SocketOpened", gen: 2 }, { type: "DataReceived", gen: 2 }]);
  assert.equal(at.snapshot.state.name, "Live");
  // A probe that cannot reach Kite after a refusal changes nothing but backs off again.
  at = step(at, { type: "SocketFailed", gen: 2, kind: "network", detail: "reset" }, 10);
  at = step(at, { type: "RetryDue", shard: 0 }, 60_000);
  at = step(at, { type: "SocketFailed", gen: 3, kind: "auth", detail: "HTTP 403" }, 10);
  at = step(at, probed(A, "error", "Failed to read profile: TimeoutError"), 10);
  assert.equal(at.snapshot.state.name, "Reconnecting");
  assert.equal(at.snapshot.loginNeeded, false);
  assert.equal(labels(at.effects), "StartTimer:retry:0");
});

Deno.test("a dead token is not a dead feed: Live with login needed, one notice, Expired when a socket ends", () => {
  // Live at 10:00 IST on a Monday; a Kite Web logout kills the token at 10:05.
  let at = stepAt(start(), loaded(A), ist(11, 10, 0));
  at = play(at, [probed(A, "ok"), { type: "SocketOpened", gen: 1 }, {
    type: "DataReceived",
    gen: 1,
  }]);
  assert.equal(at.snapshot.state.name, "Live");
  assert.equal(at.snapshot.nextProbeAt, ist(11, 10, 15), "market hours: every 15 minutes");
  at = stepAt(at, { type: "ExpiryDue" }, ist(11, 10, 15));
  assert.equal(labels(at.effects), "Probe StartTimer:expiry");
  at = step(at, probed(A, "auth", "TokenException"), 100);
  assert.equal(at.snapshot.state.name, "Live");
  assert.equal(at.snapshot.loginNeeded, true);
  assert.equal(at.snapshot.tokenDead, true);
  assert.equal(at.snapshot.nextProbeAt, null, "nothing left to ask");
  const notices = only(at.effects, "NotifyLoginNeeded");
  assert.equal(notices.length, 1);
  assert.match(notices[0]!.reason, /dead token.*next drop stops the feed; log in for today/);
  // Data keeps flowing and keeps it Live; timers and probes change nothing.
  const all: Effect[] = [];
  for (
    const event of [
      { type: "DataReceived", gen: 1 },
      { type: "ExpiryDue" },
      probed(A, "auth"),
      { type: "DataReceived", gen: 1 },
    ] as const
  ) {
    at = step(at, event, 1_000);
    all.push(...at.effects);
  }
  assert.equal(at.snapshot.state.name, "Live");
  assert.deepEqual(labels(all), "");
  // The socket ends: Expired, without a handshake on the dead token and without a 2nd notice.
  at = step(
    at,
    { type: "SocketFailed", gen: 1, kind: "network", detail: "Socket closed (1006)" },
    10,
  );
  assert.equal(at.snapshot.state.name, "Expired");
  assert.equal(labels(at.effects), "CloseSocket CancelTimer:watchdog:0");
  assert.ok(at.snapshot.rejected.includes(A.fingerprint));
});

Deno.test("probes run at the expected expiry, the 07:35 recheck and every 15 min from pre-open; no notice until one finds the token dead", () => {
  // Loaded Monday 16:00 IST (market closed): the next check is the expiry, Tuesday 06:00.
  let at = play(stepAt(start(), loaded(A), ist(11, 16, 0)), [probed(A, "ok")]);
  const times: number[] = [at.snapshot.nextProbeAt!];
  const all: Effect[] = [];
  for (let i = 0; i < 5; i++) {
    at = stepAt(at, { type: "ExpiryDue" }, at.snapshot.nextProbeAt!);
    all.push(...at.effects);
    at = step(at, probed(A, "ok"), 50);
    times.push(at.snapshot.nextProbeAt!);
  }
  assert.deepEqual(times, [
    ist(12, 6, 0),
    ist(12, 7, 35),
    ist(12, 9, 0),
    ist(12, 9, 15),
    ist(12, 9, 30),
    ist(12, 9, 45),
  ]);
  assert.equal(only(all, "Probe").length, 5);
  assert.equal(only(all, "NotifyLoginNeeded").length, 0, "past expiry alone is no notice");
  assert.equal(at.snapshot.loginNeeded, true, "but a login helps from 06:00");
  // A token loaded long after its issue day is past expiry at once.
  const old = stepAt(start(), {
    type: "TokenLoaded",
    ...B,
    source: "file",
    issuedAt: ist(8, 10, 0),
  }, ist(11, 9, 30));
  assert.equal(old.snapshot.loginNeeded, true);
  assert.equal(old.snapshot.expectedExpiry, ist(9, 6, 0));
  assert.equal(old.snapshot.nextProbeAt, ist(11, 9, 45));
  // The configured expiry and recheck move the checks.
  const custom = stepAt(
    start({ expiryAt: "03:00", recheckAt: "05:10" }),
    loaded(C),
    ist(11, 16, 0),
  );
  assert.equal(custom.snapshot.expectedExpiry, ist(12, 3, 0));
  assert.equal(custom.snapshot.nextProbeAt, ist(12, 3, 0));
  const after = stepAt(custom, { type: "ExpiryDue" }, ist(12, 3, 0));
  assert.equal(after.snapshot.nextProbeAt, ist(12, 5, 10));
});

Deno.test("reminders go out at 08:30 and 08:50 IST on trading days while a login is needed, one per time", () => {
  // No token from Thursday evening; Friday 8 March is a holiday, then a weekend.
  const holidays = new Set(["2024-03-08"]);
  let at = stepAt(start({ holidays }), {
    type: "TokenInvalid",
    source: "startup",
    detail: "empty",
  }, ist(7, 20, 0));
  assert.equal(at.snapshot.state.name, "Expired");
  assert.equal(at.snapshot.nextReminderAt, ist(11, 8, 30), "Monday: Friday is a holiday");
  const notices: string[] = [];
  for (const when of [ist(11, 8, 30), ist(11, 8, 30), ist(11, 8, 50)]) {
    at = stepAt(at, { type: "RemindDue" }, when);
    notices.push(...only(at.effects, "RemindLogin").map((e) => e.reason));
    assert.deepEqual(only(at.effects, "NotifyLoginNeeded"), []);
  }
  assert.deepEqual(notices, ["log in for today (no token)", "log in for today (no token)"]);
  assert.equal(at.snapshot.nextReminderAt, ist(12, 8, 30));
  // A token ends the reminders.
  at = stepAt(at, loaded(A), ist(11, 8, 55));
  assert.equal(at.snapshot.nextReminderAt, null);
  assert.ok(at.effects.some((e) => e.type === "CancelTimer" && e.timer === "remind"));
  const late = stepAt(at, { type: "RemindDue" }, ist(12, 8, 30));
  assert.deepEqual(late.effects, []);
});
