/**
 * The feed's lifecycle as a pure state machine: `transition(snapshot, event, step)` returns
 * the next snapshot and the effects to carry out, as data. It executes nothing and imports
 * nothing with I/O; `actor.ts` runs it. Time and randomness come in through `step`.
 *
 * States: Disconnected (no token yet, or stopped) → Reconnecting (a handshake in flight, or
 * waiting out a backoff) → Live (handshake done and data flowing) · Expired (Kite rejected
 * the token, or it is past expiry and the probe says so; waits for a new token).
 *
 * One socket at most: `snapshot.socket` is the one open or opening, and every event naming
 * another generation is dropped. The machine owns the stall watchdog (one timer, re-armed
 * only when it fires, never per tick) and the expiry probe. After `Stop` it ignores all.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import { backoffDelay, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS } from "./backoff.ts";
import { formatTimeOfDay, nextIstTime, parseTimeOfDay, type TimeOfDay } from "./expiry.ts";

export type { Mode, TimeOfDay };

/** Where a token came from. */
export type TokenSource = "file" | "callback" | "startup" | "signal";
/** Why a socket failed: `auth` (401/403 on the handshake) is permanent, the rest transient. */
export type FailureKind = "auth" | "network" | "stall";
/** What `GET /user/profile` said of a token; `error` means it could not tell. */
export type ProbeOutcome = "ok" | "auth" | "wrong_user" | "error";
/** The machine's timers. `StartTimer` replaces the pending timer of the same name. */
export type TimerName = "retry" | "watchdog" | "expiry";
/** Severity of a {@linkcode Effect} `Log`. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A state and its data; `since` is epoch ms. */
export type State =
  | {
    readonly name: "Disconnected";
    readonly since: number;
    readonly reason: "no token yet" | "stopped";
  }
  | {
    readonly name: "Reconnecting";
    readonly since: number;
    readonly reason: string;
    /** 1-based number of the handshake in flight, or of the next one after the backoff. */
    readonly attempt: number;
    /** When the backoff ends; `null` while a socket is opening or open. */
    readonly retryAt: number | null;
    readonly fingerprint: string;
  }
  | {
    readonly name: "Live";
    readonly since: number;
    readonly gen: number;
    readonly fingerprint: string;
  }
  | {
    readonly name: "Expired";
    readonly since: number;
    readonly reason: string;
    /** The dead token's fingerprint; `null` when there never was a token. */
    readonly fingerprint: string | null;
  };

/** One of `"Disconnected" | "Reconnecting" | "Live" | "Expired"`. */
export type StateName = State["name"];

/** What the machine reacts to. `gen` names the socket an adapter event is about. */
export type Event =
  /** A usable token; `fingerprint` is `fingerprint(token)` from `src/fingerprint.ts`. */
  | {
    readonly type: "TokenLoaded";
    readonly token: string;
    readonly fingerprint: string;
    readonly source: TokenSource;
    /** When Kite issued it (the session's login time), if known; else when it loaded. */
    readonly issuedAt?: number;
  }
  /** An empty or malformed token value; `detail` must not hold the value. */
  | { readonly type: "TokenInvalid"; readonly source: TokenSource; readonly detail: string }
  | { readonly type: "SocketOpened"; readonly gen: number }
  /** Any message on the socket: ticks or a heartbeat. */
  | { readonly type: "DataReceived"; readonly gen: number }
  | {
    readonly type: "SocketFailed";
    readonly gen: number;
    readonly kind: FailureKind;
    readonly detail: string;
  }
  | { readonly type: "RetryDue" }
  | { readonly type: "WatchdogDue" }
  | { readonly type: "ExpiryDue" }
  | {
    readonly type: "ProbeResult";
    readonly fingerprint: string;
    readonly result: ProbeOutcome;
    readonly userId?: string;
    readonly detail?: string;
  }
  /** A `{"type":"error"}` text message from Kite. */
  | { readonly type: "TextError"; readonly gen: number; readonly message: string }
  | { readonly type: "Stop" };

/** What the actor must do, in order. Messages never hold a raw token. */
export type Effect =
  | {
    readonly type: "OpenSocket";
    readonly token: string;
    readonly fingerprint: string;
    readonly gen: number;
  }
  | { readonly type: "CloseSocket"; readonly gen: number }
  | {
    readonly type: "Subscribe";
    readonly gen: number;
    readonly tokens: readonly number[];
    readonly mode: Mode;
  }
  | { readonly type: "StartTimer"; readonly timer: TimerName; readonly ms: number }
  | { readonly type: "CancelTimer"; readonly timer: TimerName }
  | { readonly type: "Probe"; readonly token: string; readonly fingerprint: string }
  | { readonly type: "NotifyLoginNeeded"; readonly reason: string }
  | { readonly type: "Log"; readonly level: LogLevel; readonly message: string };

/** The current token; `loadedAt` is epoch ms. */
export interface TokenInfo {
  /** The raw token: only for opening sockets and probing, never for logs. */
  readonly token: string;
  /** First 12 hex digits of its SHA-256: what logs and `/status` show. */
  readonly fingerprint: string;
  /** Where it came from. */
  readonly source: TokenSource;
  /** When it was loaded, epoch ms. */
  readonly loadedAt: number;
}

/** The one socket open or opening; `activeAt` is its last sign of life (open or data). */
export interface SocketInfo {
  /** Its generation; events naming any other are dropped. */
  readonly gen: number;
  /** `opening` until `SocketOpened`, then `open`. */
  readonly phase: "opening" | "open";
  /** Epoch ms of its last sign of life; the watchdog measures from here. */
  readonly activeAt: number;
}

/** Instruments to subscribe on every new socket. */
export interface Subscriptions {
  /** Kite instrument tokens. */
  readonly tokens: readonly number[];
  /** Kite subscription mode. */
  readonly mode: Mode;
}

/** Resolved settings, kept in the snapshot so `transition` needs nothing else. */
export interface LifecycleConfig {
  /** Ceiling of the first retry delay. */
  readonly backoffBaseMs: number;
  /** Largest ceiling of any retry delay. */
  readonly backoffCapMs: number;
  /** No data (or no handshake) for this long is a stall. */
  readonly stallMs: number;
  /** The expected daily expiry, IST. */
  readonly expiryAt: TimeOfDay;
  /** How often to re-probe a token past its expected expiry. */
  readonly reprobeMs: number;
}

/** Everything `/status`, metrics and the actor need, in one immutable value. */
export interface Snapshot {
  /** The state and its data. */
  readonly state: State;
  /** The current token (kept when it dies, so `/status` can name it). */
  readonly token: TokenInfo | null;
  /** The generation of the newest socket ever opened; 0 before the first. */
  readonly gen: number;
  /** The one socket open or opening, if any. */
  readonly socket: SocketInfo | null;
  /** Replayed on every new socket. */
  readonly subscriptions: Subscriptions;
  /** When the current token is expected to die (epoch ms). */
  readonly expectedExpiry: number | null;
  /** When the expiry probe runs next; `null` when none is planned. */
  readonly nextProbeAt: number | null;
  /** True once the token is dead or past its expected expiry, until a new one loads. */
  readonly loginNeeded: boolean;
  /** The user id the probe reported for the current token. */
  readonly userId: string | null;
  /** Consecutive failed connection attempts since the feed was last Live. */
  readonly attempts: number;
  /** Handshakes started after the first one, for any reason. */
  readonly reconnectsTotal: number;
  /** The last connection failure, e.g. `network: ECONNRESET`. */
  readonly lastError: string | null;
  /** When the last message arrived, epoch ms. */
  readonly lastDataAt: number | null;
  /** Kite `error` text messages seen. */
  readonly textErrorsTotal: number;
  /** The last unusable token value seen, until a usable one loads. */
  readonly invalidToken: {
    readonly source: TokenSource;
    readonly detail: string;
    readonly at: number;
  } | null;
  /** Fingerprints Kite rejected, newest first; never handshaken with again. */
  readonly rejected: readonly string[];
  /** The settings this snapshot was built with. */
  readonly config: LifecycleConfig;
}

/** What a step takes from outside: the time, and a uniform random draw in [0, 1). */
export interface Step {
  /** Epoch ms. */
  readonly now: number;
  /** Uniform in [0, 1); only backoff uses it. */
  readonly random: number;
}

/** The outcome of one event. An ignored event returns the same snapshot and no effects. */
export interface Transition {
  /** The next snapshot (the same object when nothing changed). */
  readonly snapshot: Snapshot;
  /** To be carried out in order. */
  readonly effects: readonly Effect[];
}

/** Options of {@linkcode initialSnapshot}. */
export interface LifecycleOptions {
  /** Defaults to no instruments in `quote` mode. */
  readonly subscriptions?: Subscriptions;
  /** Defaults to 250. */
  readonly backoffBaseMs?: number;
  /** Defaults to 30 000. */
  readonly backoffCapMs?: number;
  /** Defaults to 5 000. */
  readonly stallMs?: number;
  /** `HH:MM` IST; defaults to `"06:00"`. */
  readonly expiryAt?: string;
  /** Defaults to 15 minutes. */
  readonly reprobeMs?: number;
}

/** The `type` of every {@linkcode Event}. */
export type EventType = Event["type"];
/** The {@linkcode Event} whose `type` is `T`. */
export type On<T extends EventType> = Extract<Event, { type: T }>;
/** Handles one event type in one state. */
export type Handler<T extends EventType> = (s: Snapshot, e: On<T>, step: Step) => Transition;
/** A state's handlers by event type; a missing one ignores the event. */
export type TransitionRow = { readonly [T in EventType]?: Handler<T> };

const REJECTED_KEPT = 16;

function done(snapshot: Snapshot, ...effects: Effect[]): Transition {
  return { snapshot, effects };
}

function log(level: LogLevel, message: string): Effect {
  return { type: "Log", level, message };
}

/** Drops events about any socket but the current one. */
function current<E extends { readonly gen: number }>(
  handler: (s: Snapshot, e: E, step: Step) => Transition,
): (s: Snapshot, e: E, step: Step) => Transition {
  return function currentSocketOnly(s, e, step) {
    return s.socket?.gen === e.gen ? handler(s, e, step) : done(s);
  };
}

/** Effects that end the socket and every running timer. */
function teardown(s: Snapshot): Effect[] {
  const effects: Effect[] = [];
  if (s.socket) {
    effects.push({ type: "CloseSocket", gen: s.socket.gen }, {
      type: "CancelTimer",
      timer: "watchdog",
    });
  }
  if (s.state.name === "Reconnecting" && s.state.retryAt !== null) {
    effects.push({ type: "CancelTimer", timer: "retry" });
  }
  if (s.nextProbeAt !== null) effects.push({ type: "CancelTimer", timer: "expiry" });
  return effects;
}

/** Opens the next generation's socket with the current token. */
function open(s: Snapshot, token: TokenInfo, now: number): Transition {
  const gen = s.gen + 1;
  const snapshot = {
    ...s,
    gen,
    socket: { gen, phase: "opening", activeAt: now },
    reconnectsTotal: s.reconnectsTotal + (s.gen > 0 ? 1 : 0),
  } as const;
  return done(
    snapshot,
    { type: "OpenSocket", token: token.token, fingerprint: token.fingerprint, gen },
    { type: "StartTimer", timer: "watchdog", ms: s.config.stallMs },
  );
}

function expire(s: Snapshot, reason: string, detail: string, now: number): Transition {
  const fingerprint = s.token?.fingerprint ?? null;
  const rejected = fingerprint === null
    ? s.rejected
    : [fingerprint, ...s.rejected.filter((f) => f !== fingerprint)];
  return done(
    {
      ...s,
      state: { name: "Expired", since: now, reason, fingerprint },
      socket: null,
      nextProbeAt: null,
      loginNeeded: true,
      lastError: detail,
      rejected: rejected.slice(0, REJECTED_KEPT),
    },
    ...teardown(s),
    { type: "NotifyLoginNeeded", reason },
  );
}

/** A transient failure: close the socket and back off with full jitter. */
function retry(s: Snapshot, kind: FailureKind, detail: string, step: Step): Transition {
  const { config, socket, token } = s;
  if (!token) return done(s);
  const attempts = s.attempts + 1;
  const ms = backoffDelay(attempts, {
    random: step.random,
    baseMs: config.backoffBaseMs,
    capMs: config.backoffCapMs,
  });
  const error = `${kind}: ${detail}`;
  const since = s.state.name === "Reconnecting" ? s.state.since : step.now;
  const state = {
    name: "Reconnecting",
    since,
    reason: error,
    attempt: attempts + 1,
    retryAt: step.now + ms,
    fingerprint: token.fingerprint,
  } as const;
  const effects: Effect[] = socket
    ? [{ type: "CloseSocket", gen: socket.gen }, { type: "CancelTimer", timer: "watchdog" }]
    : [];
  effects.push(
    { type: "StartTimer", timer: "retry", ms },
    log("warn", `Feed failed (${error}); retrying in ${ms} ms (attempt ${attempts + 1})`),
  );
  return done({ ...s, state, socket: null, attempts, lastError: error }, ...effects);
}

function loadToken(s: Snapshot, e: On<"TokenLoaded">, step: Step): Transition {
  // The file holds the current token again: whatever made it unusable is over.
  if (s.token?.token === e.token) return done(s.invalidToken ? { ...s, invalidToken: null } : s);
  if (s.rejected.includes(e.fingerprint)) {
    return done(
      s,
      log("warn", `Ignoring token ${e.fingerprint} from ${e.source}: Kite already rejected it`),
    );
  }
  const token: TokenInfo = {
    token: e.token,
    fingerprint: e.fingerprint,
    source: e.source,
    loadedAt: step.now,
  };
  const expiry = nextIstTime(Math.min(e.issuedAt ?? step.now, step.now), s.config.expiryAt);
  const old: Effect[] = s.socket ? [{ type: "CloseSocket", gen: s.socket.gen }] : [];
  if (s.state.name === "Reconnecting" && s.state.retryAt !== null) {
    old.push({ type: "CancelTimer", timer: "retry" });
  }
  const opened = open(
    {
      ...s,
      state: {
        name: "Reconnecting",
        since: step.now,
        reason: `new token from ${e.source}`,
        attempt: 1,
        retryAt: null,
        fingerprint: e.fingerprint,
      },
      token,
      attempts: 0,
      expectedExpiry: expiry,
      nextProbeAt: expiry,
      loginNeeded: false,
      userId: null,
      invalidToken: null,
    },
    token,
    step.now,
  );
  return done(
    opened.snapshot,
    ...old,
    ...opened.effects,
    { type: "Probe", token: e.token, fingerprint: e.fingerprint },
    { type: "StartTimer", timer: "expiry", ms: Math.max(0, expiry - step.now) },
    log(
      "info",
      `Token ${e.fingerprint} loaded from ${e.source}; opening the feed (gen ${opened.snapshot.gen})`,
    ),
  );
}

function noteInvalidToken(s: Snapshot, e: On<"TokenInvalid">, step: Step): Transition {
  const noted = { ...s, invalidToken: { source: e.source, detail: e.detail, at: step.now } };
  const keeping = s.token ? `keeping token ${s.token.fingerprint}` : "no token to keep";
  const line = log("warn", `Unusable token from ${e.source} (${e.detail}); ${keeping}`);
  if (s.state.name !== "Disconnected") return done(noted, line);
  const expired = expire(noted, "no token", `no usable token: ${e.detail}`, step.now);
  return done(expired.snapshot, line, ...expired.effects);
}

function socketOpened(s: Snapshot, e: On<"SocketOpened">, step: Step): Transition {
  if (s.socket?.phase !== "opening") return done(s);
  const { tokens, mode } = s.subscriptions;
  return done(
    { ...s, socket: { gen: e.gen, phase: "open", activeAt: step.now } },
    ...(tokens.length > 0 ? [{ type: "Subscribe", gen: e.gen, tokens, mode } as const] : []),
  );
}

function dataReceived(s: Snapshot, e: On<"DataReceived">, step: Step): Transition {
  if (s.socket?.phase !== "open") return done(s);
  const fed = { ...s, socket: { ...s.socket, activeAt: step.now }, lastDataAt: step.now };
  if (s.state.name === "Live" || !s.token) return done(fed);
  return done({
    ...fed,
    state: { name: "Live", since: step.now, gen: e.gen, fingerprint: s.token.fingerprint },
    attempts: 0,
  });
}

function socketFailed(s: Snapshot, e: On<"SocketFailed">, step: Step): Transition {
  if (e.kind === "auth") return expire(s, "token rejected", `auth: ${e.detail}`, step.now);
  return retry(s, e.kind, e.detail, step);
}

function retryDue(s: Snapshot, _e: unknown, step: Step): Transition {
  if (s.state.name !== "Reconnecting" || s.state.retryAt === null || s.socket || !s.token) {
    return done(s);
  }
  if (step.now < s.state.retryAt) {
    return done(s, { type: "StartTimer", timer: "retry", ms: s.state.retryAt - step.now });
  }
  const opened = open({ ...s, state: { ...s.state, retryAt: null } }, s.token, step.now);
  return done(
    opened.snapshot,
    ...opened.effects,
    log("info", `Retrying the feed: attempt ${s.state.attempt} (gen ${opened.snapshot.gen})`),
  );
}

function watchdogDue(s: Snapshot, _e: unknown, step: Step): Transition {
  if (!s.socket) return done(s);
  const quiet = step.now - s.socket.activeAt;
  if (quiet < s.config.stallMs) {
    return done(s, { type: "StartTimer", timer: "watchdog", ms: s.config.stallMs - quiet });
  }
  const what = s.socket.phase === "opening" ? "no handshake" : "no data";
  return retry(s, "stall", `${what} for ${quiet} ms`, step);
}

function expiryDue(s: Snapshot, _e: unknown, step: Step): Transition {
  const { token, nextProbeAt, config } = s;
  if (!token || nextProbeAt === null) return done(s);
  if (step.now < nextProbeAt) {
    return done(s, { type: "StartTimer", timer: "expiry", ms: nextProbeAt - step.now });
  }
  const effects: Effect[] = [
    { type: "Probe", token: token.token, fingerprint: token.fingerprint },
    { type: "StartTimer", timer: "expiry", ms: config.reprobeMs },
  ];
  if (!s.loginNeeded) {
    const reason = `token past its expected expiry (${formatTimeOfDay(config.expiryAt)} IST)`;
    effects.push(
      { type: "NotifyLoginNeeded", reason },
      log("warn", `Token ${token.fingerprint} is ${reason}; probing it`),
    );
  }
  return done({ ...s, loginNeeded: true, nextProbeAt: step.now + config.reprobeMs }, ...effects);
}

function probeResult(s: Snapshot, e: On<"ProbeResult">, step: Step): Transition {
  if (s.token?.fingerprint !== e.fingerprint) return done(s);
  const known = e.userId === undefined ? s : { ...s, userId: e.userId };
  const detail = e.detail ?? e.result;
  switch (e.result) {
    case "ok":
      return done(known);
    case "auth":
      return expire(known, "token expired", `probe: ${detail}`, step.now);
    case "wrong_user":
      return expire(
        known,
        "wrong user",
        `probe: logged in as ${e.userId ?? "another user"}`,
        step.now,
      );
    case "error":
      return done(known, log("warn", `Probe of token ${e.fingerprint} failed: ${detail}`));
  }
}

function textError(s: Snapshot, e: On<"TextError">): Transition {
  return done(
    { ...s, textErrorsTotal: s.textErrorsTotal + 1 },
    log("warn", `Kite sent an error on gen ${e.gen}: ${e.message}`),
  );
}

function stop(s: Snapshot, _e: unknown, step: Step): Transition {
  return done({
    ...s,
    state: { name: "Disconnected", since: step.now, reason: "stopped" },
    socket: null,
    nextProbeAt: null,
  }, ...teardown(s));
}

/** Every state × event; a missing cell means the event is ignored in that state. */
export const TRANSITIONS: Readonly<Record<StateName, TransitionRow>> = {
  Disconnected: { TokenLoaded: loadToken, TokenInvalid: noteInvalidToken, Stop: stop },
  Reconnecting: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    SocketOpened: current(socketOpened),
    DataReceived: current(dataReceived),
    SocketFailed: current(socketFailed),
    RetryDue: retryDue,
    WatchdogDue: watchdogDue,
    ExpiryDue: expiryDue,
    ProbeResult: probeResult,
    TextError: current(textError),
    Stop: stop,
  },
  Live: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    DataReceived: current(dataReceived),
    SocketFailed: current(socketFailed),
    WatchdogDue: watchdogDue,
    ExpiryDue: expiryDue,
    ProbeResult: probeResult,
    TextError: current(textError),
    Stop: stop,
  },
  Expired: { TokenLoaded: loadToken, TokenInvalid: noteInvalidToken, Stop: stop },
};

/** One line for a change of state, e.g. `Reconnecting → Live in 41 ms`. */
function describeChange(before: State, after: State): Effect {
  if (after.name === "Live") {
    return log("info", `${before.name} → Live in ${after.since - before.since} ms`);
  }
  const level = after.name === "Expired" || before.name === "Live" ? "warn" : "info";
  return log(level, `${before.name} → ${after.name}: ${after.reason}`);
}

/**
 * The pure step: the snapshot after `event` at `step.now`, and the effects to carry out.
 * Once stopped, every event is ignored.
 */
export function transition(snapshot: Snapshot, event: Event, step: Step): Transition {
  const { state } = snapshot;
  if (state.name === "Disconnected" && state.reason === "stopped") return done(snapshot);
  const handler = TRANSITIONS[state.name][event.type] as Handler<EventType> | undefined;
  if (!handler) return done(snapshot);
  const next = handler(snapshot, event, step);
  if (next.snapshot.state.name === state.name) return next;
  return done(next.snapshot, ...next.effects, describeChange(state, next.snapshot.state));
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Failed to configure the lifecycle: ${name} ${value} is not a positive number`,
    );
  }
  return value;
}

/**
 * The starting snapshot: Disconnected, no token, nothing open.
 *
 * @throws {RangeError} for a non-positive duration; {SyntaxError} for a bad `expiryAt`.
 */
export function initialSnapshot(now: number, options: LifecycleOptions = {}): Snapshot {
  const baseMs = positive("backoffBaseMs", options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS);
  return {
    state: { name: "Disconnected", since: now, reason: "no token yet" },
    token: null,
    gen: 0,
    socket: null,
    subscriptions: options.subscriptions ?? { tokens: [], mode: "quote" },
    expectedExpiry: null,
    nextProbeAt: null,
    loginNeeded: false,
    userId: null,
    attempts: 0,
    reconnectsTotal: 0,
    lastError: null,
    lastDataAt: null,
    textErrorsTotal: 0,
    invalidToken: null,
    rejected: [],
    config: {
      backoffBaseMs: baseMs,
      backoffCapMs: Math.max(
        baseMs,
        positive("backoffCapMs", options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS),
      ),
      stallMs: positive("stallMs", options.stallMs ?? 5_000),
      expiryAt: parseTimeOfDay(options.expiryAt ?? "06:00"),
      reprobeMs: positive("reprobeMs", options.reprobeMs ?? 15 * 60_000),
    },
  };
}
