/**
 * The feed's lifecycle as a pure state machine: `transition(snapshot, event, step)` returns
 * the next snapshot and the effects to carry out, as data. It executes nothing and imports
 * nothing with I/O; `actor.ts` runs it. Time and randomness come in through `step`.
 *
 * States (the token's life, one for the whole pool): Disconnected (no token yet, or stopped)
 * → Reconnecting (some shard's socket is opening or backing off) → Live (every shard that
 * should stream is open and has had data) · Expired (Kite rejected the token, or it is past
 * expiry and the probe says so; waits for a new token).
 *
 * The upstream is a pool of up to {@linkcode MAX_SHARDS} shards (Kite: 3 sockets a key,
 * 3000 instruments a socket). Each shard has its own plan (the instruments it should carry),
 * socket generation, watchdog, backoff and the subscriptions it has sent; a network fault or
 * stall reconnects that shard only, a dead token stops them all, a new token reopens them all
 * and replays each plan. Shard 0 keeps a socket while the token is usable even with an empty
 * plan: its handshake checks the token and its heartbeats show the feed is alive. Until Kite
 * has accepted a token on some handshake, at most one handshake is in flight, so a dead token
 * costs one. Generations are unique across shards: an event naming no current socket is
 * dropped. After `Stop` the machine ignores all.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import { backoffDelay, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_CAP_MS } from "./backoff.ts";
import { formatTimeOfDay, nextIstTime, parseTimeOfDay, type TimeOfDay } from "./expiry.ts";
import { nextProbeAt, nextReminderAt } from "./schedule.ts";

export type { Mode, TimeOfDay };

/** How many upstream sockets Kite allows one api_key. */
export const MAX_SHARDS = 3;
/** How many instruments Kite allows one socket. */
export const MAX_SHARD_INSTRUMENTS = 3000;

/** A shard's index, 0 to {@linkcode MAX_SHARDS} − 1. */
export type ShardIndex = 0 | 1 | 2;
/** Where a token came from. */
export type TokenSource = "file" | "callback" | "startup" | "signal";
/** Why a socket failed: `auth` (401/403 on the handshake) is permanent, the rest transient. */
export type FailureKind = "auth" | "network" | "stall";
/** What `GET /user/profile` said of a token; `error` means it could not tell. */
export type ProbeOutcome = "ok" | "auth" | "wrong_user" | "error";
/**
 * The machine's timers: one per shard for retry and watchdog, one for the token's probes
 * (`expiry`: at the expected expiry, the daily recheck and in market hours) and one for the
 * login reminders (`remind`).
 */
export type TimerName = "expiry" | "remind" | `retry:${ShardIndex}` | `watchdog:${ShardIndex}`;
/** Severity of a {@linkcode Effect} `Log`. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What kind of failure {@linkcode LastError} records. */
export type ErrorKind = FailureKind | "refused" | "probe" | "token";

/** The last connection failure, typed: `{ kind: "network", detail: "ECONNRESET" }`. */
export interface LastError {
  /** `auth` (handshake refused, token not checked yet), `refused` (handshake refused but
   * the profile says the token is alive), `network`, `stall`, `probe` (the profile said the
   * token is dead or someone else's) or `token` (no usable token). */
  readonly kind: ErrorKind;
  /** Readable cause, never holding a token. */
  readonly detail: string;
}

/** The wanted instruments of one shard: instrument token → mode. */
export interface ShardPlan {
  /** At most {@linkcode MAX_SHARD_INSTRUMENTS}. */
  readonly instruments: ReadonlyMap<number, Mode>;
}

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
    /** 1-based number of the next handshake of the shard that has failed most often. */
    readonly attempt: number;
    /** The earliest end of a shard's backoff; `null` when no shard is backing off. */
    readonly retryAt: number | null;
    readonly fingerprint: string;
  }
  | {
    readonly name: "Live";
    readonly since: number;
    /** The newest generation among the open sockets. */
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
  /** A usable token; `fingerprint` is `fingerprint(token)` from `src/token/fingerprint.ts`. */
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
  /** The wanted instruments per shard index (at most 3 entries; a missing one is empty). */
  | { readonly type: "PlanChanged"; readonly plan: readonly ShardPlan[] }
  | { readonly type: "SocketOpened"; readonly gen: number }
  /** Any message on the socket: ticks or a heartbeat. */
  | { readonly type: "DataReceived"; readonly gen: number }
  | {
    readonly type: "SocketFailed";
    readonly gen: number;
    readonly kind: FailureKind;
    readonly detail: string;
  }
  | { readonly type: "RetryDue"; readonly shard: ShardIndex }
  | { readonly type: "WatchdogDue"; readonly shard: ShardIndex }
  /** The `expiry` timer: a probe of the token is due. */
  | { readonly type: "ExpiryDue" }
  /** The `remind` timer: a login reminder is due. */
  | { readonly type: "RemindDue" }
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
    readonly shard: ShardIndex;
  }
  | { readonly type: "CloseSocket"; readonly gen: number }
  /** Send `subscribe` and `mode` for `tokens` (also how a mode changes, up or down). */
  | {
    readonly type: "Subscribe";
    readonly gen: number;
    readonly tokens: readonly number[];
    readonly mode: Mode;
  }
  | { readonly type: "Unsubscribe"; readonly gen: number; readonly tokens: readonly number[] }
  | { readonly type: "StartTimer"; readonly timer: TimerName; readonly ms: number }
  | { readonly type: "CancelTimer"; readonly timer: TimerName }
  | { readonly type: "Probe"; readonly token: string; readonly fingerprint: string }
  | { readonly type: "NotifyLoginNeeded"; readonly reason: string }
  /** A reminder that a login is still needed (at a `remindAt` time on a trading day). */
  | { readonly type: "RemindLogin"; readonly reason: string }
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

/** A shard's socket, open or opening; `activeAt` is its last sign of life (open or data). */
export interface SocketInfo {
  /** Its generation; events naming any other are dropped. */
  readonly gen: number;
  /** `opening` until `SocketOpened`, then `open`. */
  readonly phase: "opening" | "open";
  /** Epoch ms of its last sign of life; the watchdog measures from here. */
  readonly activeAt: number;
  /** Whether any message has arrived on it. */
  readonly fed: boolean;
  /** What has been subscribed on it: instrument token → mode. */
  readonly sent: ReadonlyMap<number, Mode>;
}

/** One upstream shard. */
export interface Shard {
  readonly index: ShardIndex;
  /** The instruments it should carry. */
  readonly plan: ReadonlyMap<number, Mode>;
  /** Its socket open or opening, if any. */
  readonly socket: SocketInfo | null;
  /** Consecutive failed connection attempts since it last had data. */
  readonly attempts: number;
  /** When its backoff ends; `null` when it is not backing off. */
  readonly retryAt: number | null;
  /** When its last message arrived, epoch ms. */
  readonly lastDataAt: number | null;
  /** Its last connection failure. */
  readonly lastError: LastError | null;
  /** Sockets opened for it so far. */
  readonly opened: number;
}

/** What a shard is doing, for `/status`: see {@linkcode shardState}. */
export type ShardState = "idle" | "waiting" | "backoff" | "opening" | "open" | "streaming";

/** Instruments to subscribe when no plan is given: shard 0's starting plan. */
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
  /** The daily recheck of the token, IST. */
  readonly recheckAt: TimeOfDay;
  /** How often to probe the token while NSE is in pre-open or open. */
  readonly probeIntervalMs: number;
  /** When to remind the operator to log in, IST, on trading days. */
  readonly remindAt: readonly TimeOfDay[];
  /** Trading holidays, `YYYY-MM-DD` (IST): no reminders on them. */
  readonly holidays: ReadonlySet<string>;
}

/** Everything `/status`, metrics and the actor need, in one immutable value. */
export interface Snapshot {
  /** The state and its data. */
  readonly state: State;
  /** The current token (kept when it dies, so `/status` can name it). */
  readonly token: TokenInfo | null;
  /** Whether Kite has accepted the current token on some handshake. */
  readonly accepted: boolean;
  /** Whether a probe of the current token is in flight. */
  readonly probing: boolean;
  /**
   * A shard whose handshake Kite refused (401/403) while the probe decides whether the token
   * is dead; no handshake starts meanwhile.
   */
  readonly refusal: { readonly shard: ShardIndex; readonly detail: string } | null;
  /** The probe found the token dead while every shard still streams: the feed runs on. */
  readonly tokenDead: boolean;
  /** The generation of the newest socket ever opened; 0 before the first. */
  readonly gen: number;
  /** Always {@linkcode MAX_SHARDS} shards, by index. */
  readonly shards: readonly Shard[];
  /** When the current token is expected to die (epoch ms). */
  readonly expectedExpiry: number | null;
  /** When the token is probed next; `null` when none is planned. */
  readonly nextProbeAt: number | null;
  /** When the next login reminder goes out; `null` while no login is needed. */
  readonly nextReminderAt: number | null;
  /** True once the token is dead or past its expected expiry, until a new one loads. */
  readonly loginNeeded: boolean;
  /** The user id the probe reported for the current token. */
  readonly userId: string | null;
  /** The most attempts any shard has failed since it last had data. */
  readonly attempts: number;
  /** Handshakes started on a shard that had had a socket before, for any reason. */
  readonly reconnectsTotal: number;
  /** The last connection failure on any shard (or of the token). */
  readonly lastError: LastError | null;
  /** When the last message arrived on any shard, epoch ms. */
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
  /** The starting plan per shard; wins over `subscriptions`. */
  readonly plan?: readonly ShardPlan[];
  /** Shard 0's starting plan (spread over shards past 3000); defaults to none. */
  readonly subscriptions?: Subscriptions;
  /** Defaults to 250. */
  readonly backoffBaseMs?: number;
  /** Defaults to 30 000. */
  readonly backoffCapMs?: number;
  /** Defaults to 5 000. */
  readonly stallMs?: number;
  /** `HH:MM` IST; defaults to `"06:00"`. */
  readonly expiryAt?: string;
  /** `HH:MM` IST; defaults to `"07:35"`. */
  readonly recheckAt?: string;
  /** Defaults to 15 minutes. */
  readonly probeIntervalMs?: number;
  /** `HH:MM` IST times; defaults to `["08:30", "08:50"]`. */
  readonly remindAt?: readonly string[];
  /** Defaults to none (weekends still excluded). */
  readonly holidays?: ReadonlySet<string>;
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
const SHARD_INDEXES: readonly ShardIndex[] = [0, 1, 2];
const EMPTY_PLAN: ReadonlyMap<number, Mode> = new Map();

function done(snapshot: Snapshot, ...effects: Effect[]): Transition {
  return { snapshot, effects };
}

function log(level: LogLevel, message: string): Effect {
  return { type: "Log", level, message };
}

/** `kind: detail`, as `/status`'s `connection.last_error` and the logs show a failure. */
export function describeError(error: LastError): string {
  return `${error.kind}: ${error.detail}`;
}

/** Whether `shard` should have a socket while the token is usable. */
export function wantsSocket(shard: Shard): boolean {
  return shard.index === 0 || shard.plan.size > 0;
}

/**
 * What `shard` is doing: `idle` (no plan, no socket), `waiting` (should open; waits for the
 * token to be accepted or usable), `backoff`, `opening`, `open` (no data yet), `streaming`.
 */
export function shardState(shard: Shard): ShardState {
  if (shard.socket) {
    if (shard.socket.phase === "opening") return "opening";
    return shard.socket.fed ? "streaming" : "open";
  }
  if (shard.retryAt !== null) return "backoff";
  return shard.plan.size > 0 ? "waiting" : "idle";
}

function usable(s: Snapshot): boolean {
  return s.token !== null && (s.state.name === "Reconnecting" || s.state.name === "Live");
}

function withShard(s: Snapshot, shard: Shard): Snapshot {
  return { ...s, shards: s.shards.map((old) => old.index === shard.index ? shard : old) };
}

function shardOf(s: Snapshot, index: ShardIndex): Shard {
  return s.shards[index]!;
}

/** Effects that end `shard`'s socket and its timers. */
function closeShard(shard: Shard): Effect[] {
  const effects: Effect[] = [];
  if (shard.socket) {
    effects.push({ type: "CloseSocket", gen: shard.socket.gen }, {
      type: "CancelTimer",
      timer: `watchdog:${shard.index}`,
    });
  }
  if (shard.retryAt !== null) effects.push({ type: "CancelTimer", timer: `retry:${shard.index}` });
  return effects;
}

/** Every shard without a socket or a backoff; the effects that make it so. */
function closeAll(s: Snapshot): { shards: Shard[]; effects: Effect[] } {
  const effects = s.shards.flatMap(closeShard);
  const shards = s.shards.map((shard) =>
    shard.socket || shard.retryAt !== null ? { ...shard, socket: null, retryAt: null } : shard
  );
  return { shards, effects };
}

/** Effects that end every socket and every running timer. */
function teardown(s: Snapshot): { shards: Shard[]; effects: Effect[] } {
  const closed = closeAll(s);
  if (s.nextProbeAt !== null) closed.effects.push({ type: "CancelTimer", timer: "expiry" });
  return closed;
}

/** The effects that bring `socket`'s subscriptions to `plan`: unsubscribe, then by mode. */
function diff(gen: number, sent: ReadonlyMap<number, Mode>, plan: ReadonlyMap<number, Mode>) {
  const effects: Effect[] = [];
  const gone = [...sent.keys()].filter((token) => !plan.has(token));
  if (gone.length > 0) effects.push({ type: "Unsubscribe", gen, tokens: gone });
  const byMode = new Map<Mode, number[]>();
  for (const [token, mode] of plan) {
    if (sent.get(token) === mode) continue;
    const group = byMode.get(mode);
    if (group) group.push(token);
    else byMode.set(mode, [token]);
  }
  for (const [mode, tokens] of byMode) effects.push({ type: "Subscribe", gen, tokens, mode });
  return effects;
}

/** The next state of a usable token from its shards; the same object when unchanged. */
function settle(s: Snapshot, now: number, reason?: string): Snapshot {
  const attempts = Math.max(...s.shards.map((shard) => shard.attempts));
  const counted = attempts === s.attempts ? s : { ...s, attempts };
  const { state, token } = counted;
  if (!token || !usable(counted)) return counted;
  const wanted = counted.shards.filter(wantsSocket);
  if (wanted.every((shard) => shard.socket?.phase === "open" && shard.socket.fed)) {
    const gen = Math.max(...wanted.map((shard) => shard.socket?.gen ?? 0));
    if (state.name === "Live" && state.gen === gen) return counted;
    const since = state.name === "Live" ? state.since : now;
    return { ...counted, state: { name: "Live", since, gen, fingerprint: token.fingerprint } };
  }
  const retries = counted.shards.flatMap((shard) => shard.retryAt === null ? [] : [shard.retryAt]);
  const next = {
    name: "Reconnecting",
    since: state.name === "Reconnecting" ? state.since : now,
    reason: reason ?? (state.name === "Reconnecting" ? state.reason : "a shard is reconnecting"),
    attempt: attempts + 1,
    retryAt: retries.length > 0 ? Math.min(...retries) : null,
    fingerprint: token.fingerprint,
  } as const;
  if (
    state.name === "Reconnecting" && state.since === next.since && state.reason === next.reason &&
    state.attempt === next.attempt && state.retryAt === next.retryAt &&
    state.fingerprint === next.fingerprint
  ) return counted;
  return { ...counted, state: next };
}

/** Opens the next generation's socket for `index` with the current token. */
function openShard(s: Snapshot, index: ShardIndex, token: TokenInfo, now: number): Transition {
  const gen = s.gen + 1;
  const shard = shardOf(s, index);
  const socket: SocketInfo = { gen, phase: "opening", activeAt: now, fed: false, sent: EMPTY_PLAN };
  return done(
    withShard(
      { ...s, gen, reconnectsTotal: s.reconnectsTotal + (shard.opened > 0 ? 1 : 0) },
      { ...shard, socket, retryAt: null, opened: shard.opened + 1 },
    ),
    { type: "OpenSocket", token: token.token, fingerprint: token.fingerprint, gen, shard: index },
    { type: "StartTimer", timer: `watchdog:${index}`, ms: s.config.stallMs },
  );
}

/**
 * Brings every shard in line with its plan while the token is usable: subscriptions diffed
 * on open sockets, sockets opened where wanted (one handshake at a time until the token is
 * accepted, none while a refused handshake waits for the probe's verdict, and none on a
 * token known dead: the pool then ends), sockets and backoffs of shards with nothing to
 * carry ended.
 */
function reconcile(s: Snapshot, now: number, reason?: string): Transition {
  const { token } = s;
  if (!token || !usable(s)) return done(s);
  let snapshot = s;
  const effects: Effect[] = [];
  for (const index of SHARD_INDEXES) {
    const shard = shardOf(snapshot, index);
    if (!wantsSocket(shard)) {
      if (!shard.socket && shard.retryAt === null && shard.attempts === 0) continue;
      effects.push(...closeShard(shard));
      snapshot = withShard(snapshot, { ...shard, socket: null, retryAt: null, attempts: 0 });
    } else if (shard.socket?.phase === "open") {
      const changes = diff(shard.socket.gen, shard.socket.sent, shard.plan);
      if (changes.length === 0) continue;
      effects.push(...changes);
      snapshot = withShard(snapshot, { ...shard, socket: { ...shard.socket, sent: shard.plan } });
    } else if (!shard.socket && shard.retryAt === null) {
      if (snapshot.tokenDead) return deadTokenEnds(snapshot, `shard ${index} cannot open`, now);
      const handshaking = snapshot.shards.some((other) => other.socket?.phase === "opening");
      if (snapshot.refusal || (!snapshot.accepted && handshaking)) continue;
      const opened = openShard(snapshot, index, token, now);
      snapshot = opened.snapshot;
      effects.push(...opened.effects);
    }
  }
  return done(settle(snapshot, now, reason), ...effects);
}

/** Drops events about any socket but a current one; hands the handler its shard. */
function current<E extends { readonly gen: number }>(
  handler: (s: Snapshot, e: E, step: Step, shard: Shard) => Transition,
): (s: Snapshot, e: E, step: Step) => Transition {
  return function currentSocketOnly(s, e, step) {
    const shard = s.shards.find((candidate) => candidate.socket?.gen === e.gen);
    return shard ? handler(s, e, step, shard) : done(s);
  };
}

function expire(s: Snapshot, reason: string, error: LastError, now: number): Transition {
  const fingerprint = s.token?.fingerprint ?? null;
  const rejected = fingerprint === null
    ? s.rejected
    : [fingerprint, ...s.rejected.filter((f) => f !== fingerprint)];
  const { shards, effects } = teardown(s);
  return done(
    {
      ...s,
      state: { name: "Expired", since: now, reason, fingerprint },
      shards,
      refusal: null,
      tokenDead: false,
      nextProbeAt: null,
      loginNeeded: true,
      lastError: error,
      rejected: rejected.slice(0, REJECTED_KEPT),
    },
    ...effects,
    // A feed on a dead token already asked for a login when the probe found it dead.
    ...(s.tokenDead ? [] : [{ type: "NotifyLoginNeeded", reason } as const]),
  );
}

/** The token was found dead while the feed ran on it: the first socket to end ends all. */
function deadTokenEnds(s: Snapshot, what: string, now: number): Transition {
  const detail = `${what} on a token Kite rejects`;
  return expire(s, "token expired", { kind: "probe", detail }, now);
}

/** A transient failure of one shard: close its socket and back off with full jitter. */
function retry(s: Snapshot, shard: Shard, error: LastError, step: Step): Transition {
  const { config } = s;
  if (s.tokenDead) {
    return deadTokenEnds(s, `shard ${shard.index} ended (${describeError(error)})`, step.now);
  }
  const attempts = shard.attempts + 1;
  const ms = backoffDelay(attempts, {
    random: step.random,
    baseMs: config.backoffBaseMs,
    capMs: config.backoffCapMs,
  });
  const text = describeError(error);
  const effects: Effect[] = shard.socket
    ? [{ type: "CloseSocket", gen: shard.socket.gen }, {
      type: "CancelTimer",
      timer: `watchdog:${shard.index}`,
    }]
    : [];
  effects.push(
    { type: "StartTimer", timer: `retry:${shard.index}`, ms },
    log(
      "warn",
      `Shard ${shard.index} failed (${text}); retrying in ${ms} ms (attempt ${attempts + 1})`,
    ),
  );
  const failed = withShard(
    { ...s, lastError: error },
    { ...shard, socket: null, attempts, retryAt: step.now + ms, lastError: error },
  );
  return done(settle(failed, step.now, text), ...effects);
}

function loadToken(s: Snapshot, e: On<"TokenLoaded">, step: Step): Transition {
  if (s.token?.token === e.token) {
    // The file holds the current token again: whatever made it unusable is over.
    const clean = s.invalidToken ? { ...s, invalidToken: null } : s;
    // A login's own write can be read back before the login hands its token over: the
    // callback still names where the token came from. Nothing reopens.
    if (e.source !== "callback" || s.token.source === "callback") return done(clean);
    return done({ ...clean, token: { ...s.token, source: "callback" } });
  }
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
  const probeAt = nextProbeAt(step.now, probePlan(s.config, expiry));
  const closed = closeAll(s);
  const reason = `new token from ${e.source}`;
  const opened = reconcile(
    {
      ...s,
      state: {
        name: "Reconnecting",
        since: step.now,
        reason,
        attempt: 1,
        retryAt: null,
        fingerprint: e.fingerprint,
      },
      token,
      accepted: false,
      probing: true,
      refusal: null,
      tokenDead: false,
      shards: closed.shards.map((shard) => ({ ...shard, attempts: 0 })),
      attempts: 0,
      expectedExpiry: expiry,
      nextProbeAt: probeAt,
      // Issued before the last expected expiry: a login already helps.
      loginNeeded: expiry <= step.now,
      userId: null,
      invalidToken: null,
    },
    step.now,
    reason,
  );
  return done(
    opened.snapshot,
    ...closed.effects,
    ...opened.effects,
    { type: "Probe", token: e.token, fingerprint: e.fingerprint },
    { type: "StartTimer", timer: "expiry", ms: probeAt - step.now },
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
  const expired = expire(noted, "no token", {
    kind: "token",
    detail: `no usable token: ${e.detail}`,
  }, step.now);
  return done(expired.snapshot, line, ...expired.effects);
}

/** Why a plan cannot be used, or `null` when it can. */
function planProblem(plan: readonly ShardPlan[]): string | null {
  if (plan.length > MAX_SHARDS) return `${plan.length} shards (at most ${MAX_SHARDS})`;
  const index = plan.findIndex((shard) => shard.instruments.size > MAX_SHARD_INSTRUMENTS);
  if (index < 0) return null;
  const size = plan[index]!.instruments.size;
  return `shard ${index} has ${size} instruments (at most ${MAX_SHARD_INSTRUMENTS})`;
}

function changePlan(s: Snapshot, e: On<"PlanChanged">, step: Step): Transition {
  const problem = planProblem(e.plan);
  if (problem !== null) return done(s, log("error", `Ignoring a plan of ${problem}`));
  const shards = s.shards.map((shard) => ({
    ...shard,
    plan: e.plan[shard.index]?.instruments ?? EMPTY_PLAN,
  }));
  const planned = { ...s, shards };
  if (!usable(planned)) return done(planned);
  const opening = planned.refusal
    ? undefined
    : shards.find((shard) => shard.socket === null && shard.retryAt === null && wantsSocket(shard));
  return reconcile(planned, step.now, opening ? `opening shard ${opening.index}` : undefined);
}

function socketOpened(s: Snapshot, _e: On<"SocketOpened">, step: Step, shard: Shard): Transition {
  if (shard.socket?.phase !== "opening") return done(s);
  // The replay: nothing has been sent on a new socket, so the whole plan goes out.
  const socket: SocketInfo = { ...shard.socket, phase: "open", activeAt: step.now };
  return reconcile(withShard({ ...s, accepted: true }, { ...shard, socket }), step.now);
}

function dataReceived(s: Snapshot, _e: On<"DataReceived">, step: Step, shard: Shard): Transition {
  if (shard.socket?.phase !== "open") return done(s);
  const fed = withShard({ ...s, lastDataAt: step.now }, {
    ...shard,
    socket: { ...shard.socket, activeAt: step.now, fed: true },
    attempts: 0,
    lastDataAt: step.now,
  });
  return done(settle(fed, step.now));
}

function socketFailed(s: Snapshot, e: On<"SocketFailed">, step: Step, shard: Shard): Transition {
  const error = { kind: e.kind, detail: e.detail };
  if (e.kind !== "auth" || s.tokenDead) return retry(s, shard, error, step);
  // 403 is not always a dead token (PermissionException, a 4th socket...): ask the profile,
  // once, and start no handshake until it answers.
  const { token } = s;
  if (!token) return done(s);
  const asked = withShard(
    { ...s, refusal: { shard: shard.index, detail: e.detail }, lastError: error, probing: true },
    { ...shard, socket: null, lastError: error },
  );
  const effects: Effect[] = [
    { type: "CloseSocket", gen: e.gen },
    { type: "CancelTimer", timer: `watchdog:${shard.index}` },
  ];
  if (!s.probing) {
    effects.push({ type: "Probe", token: token.token, fingerprint: token.fingerprint });
  }
  effects.push(
    log("warn", `Kite refused shard ${shard.index}'s handshake (${e.detail}); checking the token`),
  );
  return done(
    settle(asked, step.now, `Kite refused the handshake (${e.detail}); checking the token`),
    ...effects,
  );
}

function retryDue(s: Snapshot, e: On<"RetryDue">, step: Step): Transition {
  const shard = shardOf(s, e.shard);
  if (!usable(s) || shard.retryAt === null || shard.socket) return done(s);
  if (step.now < shard.retryAt) {
    return done(s, { type: "StartTimer", timer: `retry:${e.shard}`, ms: shard.retryAt - step.now });
  }
  const next = reconcile(withShard(s, { ...shard, retryAt: null }), step.now);
  const gen = shardOf(next.snapshot, e.shard).socket?.gen;
  if (gen === undefined) return next;
  return done(
    next.snapshot,
    ...next.effects,
    log("info", `Retrying shard ${e.shard}: attempt ${shard.attempts + 1} (gen ${gen})`),
  );
}

function watchdogDue(s: Snapshot, e: On<"WatchdogDue">, step: Step): Transition {
  const shard = shardOf(s, e.shard);
  if (!shard.socket) return done(s);
  const quiet = step.now - shard.socket.activeAt;
  if (quiet < s.config.stallMs) {
    return done(s, {
      type: "StartTimer",
      timer: `watchdog:${e.shard}`,
      ms: s.config.stallMs - quiet,
    });
  }
  const what = shard.socket.phase === "opening" ? "no handshake" : "no data";
  return retry(s, shard, { kind: "stall", detail: `${what} for ${quiet} ms` }, step);
}

/** The settings {@linkcode nextProbeAt} takes, for a token expected to die at `expiry`. */
function probePlan(config: LifecycleConfig, expiry: number | null) {
  return {
    expectedExpiry: expiry,
    recheckAt: config.recheckAt,
    intervalMs: config.probeIntervalMs,
    holidays: config.holidays,
  };
}

/** A probe is due: at the expected expiry, the daily recheck, or by interval in market hours. */
function expiryDue(s: Snapshot, _e: unknown, step: Step): Transition {
  const { token, nextProbeAt: due, config, expectedExpiry } = s;
  if (!token || due === null || s.tokenDead) return done(s);
  if (step.now < due) return done(s, { type: "StartTimer", timer: "expiry", ms: due - step.now });
  const next = nextProbeAt(step.now, probePlan(config, expectedExpiry));
  const effects: Effect[] = s.probing
    ? []
    : [{ type: "Probe", token: token.token, fingerprint: token.fingerprint }];
  effects.push({ type: "StartTimer", timer: "expiry", ms: next - step.now });
  const past = expectedExpiry !== null && step.now >= expectedExpiry;
  if (past && !s.loginNeeded) {
    const when = `${formatTimeOfDay(config.expiryAt)} IST`;
    effects.push(
      log("warn", `Token ${token.fingerprint} is past its expected expiry (${when}); probing it`),
    );
  }
  return done(
    { ...s, probing: true, nextProbeAt: next, loginNeeded: s.loginNeeded || past },
    ...effects,
  );
}

/** The probe says the token is alive: a refused handshake was a transient refusal. */
function refusedButAlive(s: Snapshot, step: Step): Transition {
  const { refusal } = s;
  if (refusal === null) return done(s);
  const detail = `Kite refused the ticker although the token is valid (${refusal.detail})`;
  const backedOff = retry(
    { ...s, refusal: null },
    shardOf(s, refusal.shard),
    { kind: "refused", detail },
    step,
  );
  const resumed = reconcile(backedOff.snapshot, step.now);
  return done(resumed.snapshot, ...backedOff.effects, ...resumed.effects);
}

/** The probe says the token is dead: Expired, unless every shard still streams on it. */
function probedDead(s: Snapshot, detail: string, step: Step): Transition {
  const { token } = s;
  if (s.state.name !== "Live" || s.refusal !== null || !token) {
    // After a refused handshake the verdict is the ticker's as much as the profile's.
    const reason = s.refusal === null ? "token expired" : "token rejected";
    return expire(s, reason, { kind: "probe", detail }, step.now);
  }
  if (s.tokenDead) return done(s);
  const reason = "the feed runs on a dead token: Kite rejects it, and the next drop stops " +
    "the feed; log in for today";
  const rejected = [token.fingerprint, ...s.rejected.filter((f) => f !== token.fingerprint)];
  return done(
    {
      ...s,
      tokenDead: true,
      loginNeeded: true,
      nextProbeAt: null,
      lastError: { kind: "probe", detail },
      rejected: rejected.slice(0, REJECTED_KEPT),
    },
    ...(s.nextProbeAt === null ? [] : [{ type: "CancelTimer", timer: "expiry" } as const]),
    { type: "NotifyLoginNeeded", reason },
    log("warn", `Token ${token.fingerprint} is dead (${detail}), but the feed still streams on it`),
  );
}

function probeResult(s: Snapshot, e: On<"ProbeResult">, step: Step): Transition {
  if (s.token?.fingerprint !== e.fingerprint) return done(s);
  const answered = { ...s, probing: false };
  const known = e.userId === undefined ? answered : { ...answered, userId: e.userId };
  const detail = e.detail ?? e.result;
  switch (e.result) {
    case "ok":
      return refusedButAlive(known, step);
    case "auth":
      return probedDead(known, detail, step);
    case "wrong_user":
      return expire(known, "wrong user", {
        kind: "probe",
        detail: `logged in as ${e.userId ?? "another user"}`,
      }, step.now);
    case "error": {
      // Kite could not be asked: nothing changes, but a refused shard backs off and asks again.
      const line = log("warn", `Probe of token ${e.fingerprint} failed: ${detail}`);
      if (known.refusal === null) return done(known, line);
      const { shard, detail: refused } = known.refusal;
      const error: LastError = {
        kind: "auth",
        detail: `${refused}; the token could not be checked`,
      };
      const backedOff = retry({ ...known, refusal: null }, shardOf(known, shard), error, step);
      const resumed = reconcile(backedOff.snapshot, step.now);
      return done(resumed.snapshot, line, ...backedOff.effects, ...resumed.effects);
    }
  }
}

/** Whether a login would help now: the token is dead, missing, or past its expected expiry. */
export function loginNeeded(s: Snapshot): boolean {
  return s.loginNeeded || s.state.name === "Expired";
}

function remindDue(s: Snapshot, _e: unknown, step: Step): Transition {
  const due = s.nextReminderAt;
  if (due === null) return done(s);
  if (step.now < due) return done(s, { type: "StartTimer", timer: "remind", ms: due - step.now });
  const next = nextReminderAt(step.now, s.config);
  const rescheduled = { ...s, nextReminderAt: next };
  const effects: Effect[] = next === null
    ? []
    : [{ type: "StartTimer", timer: "remind", ms: next - step.now }];
  if (!loginNeeded(s)) return done(rescheduled, ...effects);
  const why = s.state.name === "Live" || s.state.name === "Reconnecting"
    ? (s.tokenDead ? "the feed runs on a dead token" : "the token is past its expected expiry")
    : s.state.reason;
  return done(
    rescheduled,
    { type: "RemindLogin", reason: `log in for today (${why})` },
    ...effects,
  );
}

function textError(s: Snapshot, e: On<"TextError">): Transition {
  return done(
    { ...s, textErrorsTotal: s.textErrorsTotal + 1 },
    log("warn", `Kite sent an error on gen ${e.gen}: ${e.message}`),
  );
}

function stop(s: Snapshot, _e: unknown, step: Step): Transition {
  const { shards, effects } = teardown(s);
  return done({
    ...s,
    state: { name: "Disconnected", since: step.now, reason: "stopped" },
    shards,
    refusal: null,
    nextProbeAt: null,
  }, ...effects);
}

/** Every state × event; a missing cell means the event is ignored in that state. */
export const TRANSITIONS: Readonly<Record<StateName, TransitionRow>> = {
  Disconnected: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    PlanChanged: changePlan,
    RemindDue: remindDue,
    Stop: stop,
  },
  Reconnecting: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    PlanChanged: changePlan,
    SocketOpened: current(socketOpened),
    DataReceived: current(dataReceived),
    SocketFailed: current(socketFailed),
    RetryDue: retryDue,
    WatchdogDue: watchdogDue,
    ExpiryDue: expiryDue,
    ProbeResult: probeResult,
    RemindDue: remindDue,
    TextError: current(textError),
    Stop: stop,
  },
  Live: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    PlanChanged: changePlan,
    DataReceived: current(dataReceived),
    SocketFailed: current(socketFailed),
    WatchdogDue: watchdogDue,
    ExpiryDue: expiryDue,
    ProbeResult: probeResult,
    RemindDue: remindDue,
    TextError: current(textError),
    Stop: stop,
  },
  Expired: {
    TokenLoaded: loadToken,
    TokenInvalid: noteInvalidToken,
    PlanChanged: changePlan,
    RemindDue: remindDue,
    Stop: stop,
  },
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
  const next = keepReminders(handler(snapshot, event, step), step.now);
  if (next.snapshot.state.name === state.name) return next;
  return done(next.snapshot, ...next.effects, describeChange(state, next.snapshot.state));
}

/** Arms the reminder timer while a login is needed, and disarms it once none is. */
function keepReminders(next: Transition, now: number): Transition {
  const s = next.snapshot;
  const stopped = s.state.name === "Disconnected" && s.state.reason === "stopped";
  const wanted = loginNeeded(s) && !stopped;
  if (wanted && s.nextReminderAt === null) {
    const at = nextReminderAt(now, s.config);
    if (at === null) return next;
    return done(
      { ...s, nextReminderAt: at },
      ...next.effects,
      { type: "StartTimer", timer: "remind", ms: at - now },
    );
  }
  if (!wanted && s.nextReminderAt !== null) {
    return done({ ...s, nextReminderAt: null }, ...next.effects, {
      type: "CancelTimer",
      timer: "remind",
    });
  }
  return next;
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Failed to configure the lifecycle: ${name} ${value} is not a positive number`,
    );
  }
  return value;
}

/** The starting plan: `plan`, or `subscriptions` in shards of 3000. */
function startingPlan(options: LifecycleOptions): readonly ShardPlan[] {
  if (options.plan) return options.plan;
  const { tokens = [], mode = "quote" } = options.subscriptions ?? {};
  const unique = [...new Set(tokens)];
  return SHARD_INDEXES.map((index) => ({
    instruments: new Map(
      unique.slice(index * MAX_SHARD_INSTRUMENTS, (index + 1) * MAX_SHARD_INSTRUMENTS)
        .map((token) => [token, mode]),
    ),
  }));
}

/**
 * The starting snapshot: Disconnected, no token, nothing open.
 *
 * @throws {RangeError} for a non-positive duration or a plan past Kite's limits;
 * {SyntaxError} for a bad `expiryAt`.
 */
export function initialSnapshot(now: number, options: LifecycleOptions = {}): Snapshot {
  const baseMs = positive("backoffBaseMs", options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS);
  const plan = startingPlan(options);
  const problem = planProblem(plan);
  if (problem !== null) {
    throw new RangeError(`Failed to configure the lifecycle: a plan of ${problem}`);
  }
  return {
    state: { name: "Disconnected", since: now, reason: "no token yet" },
    token: null,
    accepted: false,
    probing: false,
    refusal: null,
    tokenDead: false,
    gen: 0,
    shards: SHARD_INDEXES.map((index) => ({
      index,
      plan: plan[index]?.instruments ?? EMPTY_PLAN,
      socket: null,
      attempts: 0,
      retryAt: null,
      lastDataAt: null,
      lastError: null,
      opened: 0,
    })),
    expectedExpiry: null,
    nextProbeAt: null,
    nextReminderAt: null,
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
      recheckAt: parseTimeOfDay(options.recheckAt ?? "07:35"),
      probeIntervalMs: positive("probeIntervalMs", options.probeIntervalMs ?? 15 * 60_000),
      remindAt: (options.remindAt ?? ["08:30", "08:50"]).map(parseTimeOfDay),
      holidays: options.holidays ?? new Set(),
    },
  };
}
