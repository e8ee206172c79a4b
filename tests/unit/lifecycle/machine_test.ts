import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Effect,
  type Event,
  initialSnapshot,
  type Snapshot,
  type StateName,
  type TokenSource,
  transition,
  TRANSITIONS,
} from "../../../src/lifecycle/machine.ts";

// 2024-03-11 09:30 IST; the token's expected expiry is 2024-03-12 06:00 IST (00:30 UTC).
const T0 = Date.UTC(2024, 2, 11, 4, 0);
const EXPIRY = Date.UTC(2024, 2, 12, 0, 30);
const SUBSCRIPTIONS = { tokens: [256265, 260105], mode: "full" } as const;
const A = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };
const B = { token: "b".repeat(32), fingerprint: "bbbbbbbbbbb2" };
const C = { token: "c".repeat(32), fingerprint: "ccccccccccc3" };

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
    { type: "RetryDue" },
  ], 1_000);
  const reconnectingOpen = play(reconnectingOpening, [{ type: "SocketOpened", gen: 2 }]);
  const live = play(reconnectingOpen, [{ type: "DataReceived", gen: 2 }]);
  const reconnectingBackoff = play(live, [
    { type: "SocketFailed", gen: 2, kind: "network", detail: "ECONNRESET" },
  ]);
  const expired = play(reconnectingOpening, [
    { type: "SocketFailed", gen: 2, kind: "auth", detail: "HTTP 403" },
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
    live,
    expired,
    expiredNoToken,
    stopped,
  };
}

/** One sample of every event, aimed at the fixture's current socket and token. */
function samples(s: Snapshot): Record<string, Event> {
  const gen = s.socket?.gen ?? s.gen;
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
    retry: { type: "RetryDue" },
    watchdog: { type: "WatchdogDue" },
    expiry: { type: "ExpiryDue" },
    probeOk: { type: "ProbeResult", fingerprint, result: "ok", userId: "AB1234" },
    probeAuth: { type: "ProbeResult", fingerprint, result: "auth", detail: "HTTP 403" },
    probeWrongUser: { type: "ProbeResult", fingerprint, result: "wrong_user", userId: "ZZ9" },
    probeError: { type: "ProbeResult", fingerprint, result: "error", detail: "timeout" },
    textError: { type: "TextError", gen, message: "Invalid instrument" },
    stop: { type: "Stop" },
  };
}

const OPEN_NEW = "OpenSocket StartTimer:watchdog Probe StartTimer:expiry";
const TO_BACKOFF = "Reconnecting: CloseSocket CancelTimer:watchdog StartTimer:retry";
const KILL_OPEN = "Expired: CloseSocket CancelTimer:watchdog CancelTimer:expiry NotifyLoginNeeded";
const STOP_OPEN = "Disconnected: CloseSocket CancelTimer:watchdog CancelTimer:expiry";

/** Expected `state: effects` a minute after each fixture; absent cells mean "unchanged, no effects". */
const CELLS: Record<string, Record<string, string>> = {
  disconnected: {
    newToken: `Reconnecting: ${OPEN_NEW}`,
    sameToken: `Reconnecting: ${OPEN_NEW}`,
    invalid: "Expired: NotifyLoginNeeded",
    stop: "Disconnected: ",
  },
  reconnectingOpening: {
    newToken: `Reconnecting: CloseSocket ${OPEN_NEW}`,
    opened: "Reconnecting: Subscribe",
    network: TO_BACKOFF,
    auth: KILL_OPEN,
    watchdog: TO_BACKOFF, // no handshake for a minute: a stall
    expiry: "Reconnecting: StartTimer:expiry", // not due yet: re-armed
    probeAuth: KILL_OPEN,
    probeWrongUser: KILL_OPEN,
    stop: STOP_OPEN,
  },
  reconnectingOpen: {
    newToken: `Reconnecting: CloseSocket ${OPEN_NEW}`,
    data: "Live: ",
    network: TO_BACKOFF,
    auth: KILL_OPEN,
    watchdog: TO_BACKOFF,
    expiry: "Reconnecting: StartTimer:expiry",
    probeAuth: KILL_OPEN,
    probeWrongUser: KILL_OPEN,
    stop: STOP_OPEN,
  },
  reconnectingBackoff: {
    newToken: `Reconnecting: CancelTimer:retry ${OPEN_NEW}`,
    retry: "Reconnecting: OpenSocket StartTimer:watchdog",
    expiry: "Reconnecting: StartTimer:expiry",
    probeAuth: "Expired: CancelTimer:retry CancelTimer:expiry NotifyLoginNeeded",
    probeWrongUser: "Expired: CancelTimer:retry CancelTimer:expiry NotifyLoginNeeded",
    stop: "Disconnected: CancelTimer:retry CancelTimer:expiry",
  },
  live: {
    newToken: `Reconnecting: CloseSocket ${OPEN_NEW}`,
    network: TO_BACKOFF,
    auth: KILL_OPEN,
    watchdog: TO_BACKOFF, // no data for a minute
    expiry: "Live: StartTimer:expiry",
    probeAuth: KILL_OPEN,
    probeWrongUser: KILL_OPEN,
    stop: STOP_OPEN,
  },
  expired: { newToken: `Reconnecting: ${OPEN_NEW}`, stop: "Disconnected: " },
  expiredNoToken: {
    newToken: `Reconnecting: ${OPEN_NEW}`,
    sameToken: `Reconnecting: ${OPEN_NEW}`,
    stop: "Disconnected: ",
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
  assert.equal(cells, 8 * 17);
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
    { type: "OpenSocket", token: A.token, fingerprint: A.fingerprint, gen: 1 },
    { type: "StartTimer", timer: "watchdog", ms: 5_000 },
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
  assert.deepEqual(rotated.effects.slice(0, 2), [
    { type: "CloseSocket", gen: 1 },
    { type: "OpenSocket", token: B.token, fingerprint: B.fingerprint, gen: 2 },
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
  for (const source of ["file", "callback", "signal", "startup"] as const) {
    const again = step(live!, { type: "TokenLoaded", ...A, source }, 10);
    assert.equal(again.snapshot, live!.snapshot);
    assert.deepEqual(again.effects, []);
  }
});

Deno.test("an auth failure expires the token, and only a new token handshakes again", () => {
  const opening = step(start(), loaded(A), 0);
  const expired = step(opening, { type: "SocketFailed", gen: 1, kind: "auth", detail: "403" }, 50);
  assert.deepEqual(expired.snapshot.state, {
    name: "Expired",
    since: T0 + 50,
    reason: "token rejected",
    fingerprint: A.fingerprint,
  });
  assert.equal(expired.snapshot.loginNeeded, true);
  assert.ok(expired.effects.some((e) => e.type === "NotifyLoginNeeded"));
  // The dead token again, from any source, opens nothing.
  const again = step(expired, loaded(A, "startup"), 10);
  assert.equal(again.snapshot, expired.snapshot);
  assert.deepEqual(again.effects, []);
  // A new one does; when it dies too, going back to the first one still opens nothing.
  const withB = step(again, loaded(B), 10);
  assert.equal(withB.snapshot.state.name, "Reconnecting");
  assert.equal(withB.snapshot.loginNeeded, false);
  const bDead = step(withB, { type: "SocketFailed", gen: 2, kind: "auth", detail: "403" }, 10);
  const backToA = step(bDead, loaded(A), 10);
  assert.equal(backToA.snapshot.state.name, "Expired");
  assert.deepEqual(labels(backToA.effects), "");
  assert.match(logs(backToA.effects)[0] ?? "", /Kite already rejected it/);
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
    const timer = failed.effects.find((e) => e.type === "StartTimer" && e.timer === "retry");
    assert.ok(timer && timer.type === "StartTimer");
    delays.push(timer.ms);
    assert.equal(failed.snapshot.attempts, gen);
    assert.equal(
      failed.snapshot.state.name === "Reconnecting" && failed.snapshot.state.attempt,
      gen + 1,
    );
    at = step(failed, { type: "RetryDue" }, timer.ms);
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
  const early = step(failed, { type: "RetryDue" }, 150);
  assert.deepEqual(early.effects, [{ type: "StartTimer", timer: "retry", ms: 50 }]);
  assert.equal(early.snapshot, failed.snapshot);
});

Deno.test("the watchdog re-arms for the rest of the quiet window and calls a stall at 5 s", () => {
  const { live } = fixtures();
  const fed = step(live!, { type: "DataReceived", gen: 2 }, 3_000);
  const check = step(fed, { type: "WatchdogDue" }, 2_000);
  assert.deepEqual(check.effects, [{ type: "StartTimer", timer: "watchdog", ms: 3_000 }]);
  const stalled = step(check, { type: "WatchdogDue" }, 3_000);
  assert.equal(stalled.snapshot.state.name, "Reconnecting");
  assert.equal(stalled.snapshot.lastError, "stall: no data for 5000 ms");
  assert.deepEqual(logs(stalled.effects), [
    "Feed failed (stall: no data for 5000 ms); retrying in 125 ms (attempt 2)",
    "Live → Reconnecting: stall: no data for 5000 ms",
  ]);
  assert.ok(stalled.effects.some((e) => e.type === "CloseSocket" && e.gen === 2));
});

Deno.test("a handshake that never completes counts as a stall", () => {
  const opening = step(start({ stallMs: 2_000 }), loaded(A), 0);
  assert.ok(opening.effects.some((e) => e.type === "StartTimer" && e.ms === 2_000));
  const stalled = step(opening, { type: "WatchdogDue" }, 2_000);
  assert.equal(stalled.snapshot.lastError, "stall: no handshake for 2000 ms");
  assert.equal(stalled.snapshot.socket, null);
});

Deno.test("at expiry the token is probed, login is needed, and an ok probe re-probes every 15 min", () => {
  const { live } = fixtures();
  const loadedAt = live!.snapshot.token!.loadedAt;
  assert.equal(live!.snapshot.expectedExpiry, EXPIRY);
  assert.equal(live!.snapshot.nextProbeAt, EXPIRY);
  const atExpiry: At = { ...live!, now: EXPIRY };
  const due = step(atExpiry, { type: "ExpiryDue" }, 0);
  assert.equal(labels(due.effects), "Probe StartTimer:expiry NotifyLoginNeeded");
  assert.ok(due.effects.some((e) => e.type === "StartTimer" && e.ms === 900_000));
  assert.equal(due.snapshot.loginNeeded, true);
  assert.equal(due.snapshot.state.name, "Live");
  assert.ok(loadedAt < EXPIRY);
  const ok = step(due, {
    type: "ProbeResult",
    fingerprint: A.fingerprint,
    result: "ok",
    userId: "AB1234",
  }, 200);
  assert.equal(ok.snapshot.state.name, "Live");
  assert.equal(ok.snapshot.userId, "AB1234");
  assert.deepEqual(ok.effects, []);
  const again = step(ok, { type: "ExpiryDue" }, 900_000 - 200);
  assert.equal(labels(again.effects), "Probe StartTimer:expiry"); // no second notification
  assert.equal(again.snapshot.loginNeeded, true);
  const dead = step(
    again,
    { type: "ProbeResult", fingerprint: A.fingerprint, result: "auth" },
    300,
  );
  assert.deepEqual(
    {
      name: dead.snapshot.state.name,
      reason: "reason" in dead.snapshot.state && dead.snapshot.state.reason,
    },
    { name: "Expired", reason: "token expired" },
  );
  assert.ok(dead.effects.some((e) => e.type === "CloseSocket" && e.gen === 2));
  assert.equal(dead.snapshot.socket, null);
});

Deno.test("the expiry follows the configured IST time and a token's earlier issue time", () => {
  const custom = step(start({ expiryAt: "03:00" }), loaded(A), 0);
  assert.equal(custom.snapshot.expectedExpiry, Date.UTC(2024, 2, 11, 21, 30)); // 03:00 IST 12th
  // Issued yesterday at 10:00 IST, loaded at 09:30 IST today: already past 06:00, probe now.
  const issuedAt = Date.UTC(2024, 2, 10, 4, 30);
  const old = step(start(), { type: "TokenLoaded", ...A, source: "file", issuedAt }, 0);
  assert.equal(old.snapshot.expectedExpiry, Date.UTC(2024, 2, 11, 0, 30));
  assert.ok(old.effects.some((e) => e.type === "StartTimer" && e.timer === "expiry" && e.ms === 0));
  const probed = step(old, { type: "ExpiryDue" }, 0);
  assert.ok(probed.effects.some((e) => e.type === "Probe"));
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
  assert.equal(bad.snapshot.socket, live!.snapshot.socket);
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
    reprobeMs: 900_000,
  });
  assert.throws(() => initialSnapshot(T0, { stallMs: 0 }), RangeError);
  assert.throws(() => initialSnapshot(T0, { backoffBaseMs: Number.NaN }), RangeError);
  assert.throws(() => initialSnapshot(T0, { expiryAt: "6am" }), SyntaxError);
});

// ---- Properties over random event sequences -------------------------------------------

const TOKENS = [A, B, C];

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.record({
    type: fc.constant("TokenLoaded" as const),
    i: fc.integer({ min: 0, max: 2 }),
    source: fc.constantFrom("file" as const, "callback" as const),
  })
    .map(({ i, source }) => ({ type: "TokenLoaded" as const, ...TOKENS[i]!, source })),
  fc.constant<Event>({ type: "TokenInvalid", source: "file", detail: "empty" }),
  fc.integer({ min: 0, max: 6 }).map((gen): Event => ({ type: "SocketOpened", gen })),
  fc.integer({ min: 0, max: 6 }).map((gen): Event => ({ type: "DataReceived", gen })),
  fc.record({
    gen: fc.integer({ min: 0, max: 6 }),
    kind: fc.constantFrom("auth" as const, "network" as const, "stall" as const),
  })
    .map(({ gen, kind }): Event => ({ type: "SocketFailed", gen, kind, detail: "x" })),
  fc.constantFrom<Event>({ type: "RetryDue" }, { type: "WatchdogDue" }, { type: "ExpiryDue" }),
  fc.record({
    i: fc.integer({ min: 0, max: 2 }),
    result: fc.constantFrom(
      "ok" as const,
      "auth" as const,
      "wrong_user" as const,
      "error" as const,
    ),
  })
    .map(({ i, result }): Event => ({
      type: "ProbeResult",
      fingerprint: TOKENS[i]!.fingerprint,
      result,
    })),
  fc.integer({ min: 0, max: 6 }).map((gen): Event => ({ type: "TextError", gen, message: "m" })),
  fc.constant<Event>({ type: "Stop" }),
);

const runArb = fc.array(
  fc.record({
    event: eventArb,
    gap: fc.integer({ min: 0, max: 40_000_000 }).map((n) => n < 30_000_000 ? n % 10_000 : n),
    random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  }),
  { maxLength: 60 },
);

Deno.test("random event sequences keep the invariants", () => {
  fc.assert(
    fc.property(fc.boolean(), runArb, (withToken, run) => {
      let at: At = withToken ? step(start(), loaded(A), 0) : start();
      const open = new Set<number>(at.snapshot.socket ? [at.snapshot.socket.gen] : []);
      const dead = new Set<string>();
      for (const { event, gap, random } of run) {
        const wasStopped = at.snapshot.state.name === "Disconnected" &&
          at.snapshot.state.reason === "stopped";
        const rejectedBefore = new Set(at.snapshot.rejected);
        const previous = at.snapshot;
        at = step(at, event, gap, random);
        const s = at.snapshot;
        if (wasStopped) assert.deepEqual(at.effects, []);
        if (event.type === "TokenLoaded" && previous.token?.token === event.token) {
          assert.deepEqual(at.effects, []);
        }
        for (const effect of at.effects) {
          if (effect.type === "OpenSocket") {
            assert.equal(open.size, 0, "a second socket while one is open or opening");
            assert.ok(!dead.has(effect.fingerprint), "opened a socket with a rejected token");
            assert.ok(!rejectedBefore.has(effect.fingerprint));
            open.add(effect.gen);
          }
          if (effect.type === "CloseSocket") open.delete(effect.gen);
          if (effect.type === "StartTimer") assert.ok(effect.ms >= 0 && Number.isFinite(effect.ms));
          if (effect.type === "StartTimer" && effect.timer === "retry") {
            assert.ok(effect.ms < s.config.backoffCapMs);
          }
          if (effect.type === "Log" || effect.type === "NotifyLoginNeeded") {
            const text = effect.type === "Log" ? effect.message : effect.reason;
            for (const { token } of TOKENS) {
              assert.ok(!text.includes(token), "a raw token in a message");
            }
          }
        }
        // The one socket the machine knows of is the one left open by its effects.
        assert.deepEqual([...open], s.socket ? [s.socket.gen] : []);
        if (s.state.name === "Expired" && s.state.fingerprint) dead.add(s.state.fingerprint);
        switch (s.state.name) {
          case "Live":
            assert.equal(s.socket?.phase, "open");
            assert.equal(s.attempts, 0);
            break;
          case "Reconnecting":
            assert.equal(s.socket === null, s.state.retryAt !== null);
            assert.equal(s.state.attempt, s.attempts + 1);
            break;
          case "Expired":
          case "Disconnected":
            assert.equal(s.socket, null);
        }
        if (s.state.name !== "Disconnected" && s.state.name !== "Expired") {
          assert.equal(s.state.fingerprint, s.token?.fingerprint);
        }
      }
    }),
    { numRuns: 500 },
  );
});
