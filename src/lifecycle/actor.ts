/**
 * Runs the lifecycle machine: a FIFO mailbox feeds events to the pure `transition()`, and
 * the effects it returns are carried out through small injected ports. Adapters only
 * enqueue events back (`actor.send(...)`); nothing changes state from inside a callback.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Mode } from "../kite/packets.ts";
import {
  type Effect,
  type Event,
  initialSnapshot,
  type LifecycleOptions,
  type LogLevel,
  type ProbeOutcome,
  type ShardIndex,
  type Snapshot,
  type TimerName,
  transition,
} from "./machine.ts";

/** The upstream socket, by generation. `src/kite/ticker.ts`'s `TickerPort` fits. */
export interface SocketPort {
  /** Starts opening a socket; reports back with `SocketOpened`/`DataReceived`/`SocketFailed`. */
  open(token: string, gen: number): void | Promise<void>;
  /** Closes generation `gen`; an unknown or closed generation is a no-op. */
  close(gen: number): void | Promise<void>;
  /** Subscribes `tokens` in `mode` on generation `gen` (sent once it is open). */
  subscribe(gen: number, tokens: readonly number[], mode: Mode): void | Promise<void>;
  /** Unsubscribes `tokens` on generation `gen`. */
  unsubscribe(gen: number, tokens: readonly number[]): void | Promise<void>;
}

/** What a probe of `GET /user/profile` found; the actor sends it as a `ProbeResult`. */
export interface ProbeReport {
  /** What the probe concluded (`wrong_user` when the profile is not the configured user). */
  readonly result: ProbeOutcome;
  /** The profile's user id, when the call got that far. */
  readonly userId?: string;
  /** Readable cause, never holding the token. */
  readonly detail?: string;
}

/** Everything the actor does to the world goes through these. */
export interface ActorPorts {
  /** The upstream socket. */
  readonly socket: SocketPort;
  /** Checks `token`; a rejection counts as `{ result: "error" }`. */
  probe(token: string): Promise<ProbeReport>;
  /** Timers for retries, watchdogs and expiry; `now()` stamps every event. */
  readonly clock: Clock;
  /** One human line per call; never holds a raw token. */
  log(level: LogLevel, message: string): void;
  /**
   * Tells the operator a login is needed (the token is dead or missing), or, with
   * `{ kind: "reminder" }`, that it still is (a reminder before pre-open).
   */
  notify(reason: string, options?: { readonly kind: "notice" | "reminder" }): void | Promise<void>;
}

/** Options of {@linkcode createActor}. */
export interface ActorOptions {
  /** Where effects go. */
  readonly ports: ActorPorts;
  /** Settings for the starting snapshot; ignored when `snapshot` is given. */
  readonly lifecycle?: LifecycleOptions;
  /** Where to start; defaults to `initialSnapshot(clock.now(), lifecycle)`. */
  readonly snapshot?: Snapshot;
  /** A uniform random number in [0, 1) for backoff jitter; defaults to `Math.random`. */
  readonly random?: () => number;
}

/** Called after every event that changed the snapshot. */
export type Listener = (snapshot: Snapshot, previous: Snapshot) => void;

/** A running lifecycle. Methods are plain closures: pass `actor.send` around freely. */
export interface Actor {
  /** Enqueues `event`; handled after the events before it. Dropped once stopping. */
  send(event: Event): void;
  /** The current snapshot (immutable). */
  snapshot(): Snapshot;
  /** Adds an observer; returns the function that removes it. A throwing one is logged. */
  subscribe(listener: Listener): () => void;
  /** How many observers are subscribed now (the soak checks it stays flat). */
  listenerCount(): number;
  /** Sends `Stop` and resolves once it is handled and the socket's close has settled. */
  stop(): Promise<void>;
}

/** The event a timer sends when it fires: `retry:1` → `RetryDue` for shard 1. */
function timerEvent(timer: TimerName): Event {
  if (timer === "expiry") return { type: "ExpiryDue" };
  if (timer === "remind") return { type: "RemindDue" };
  const [kind, index] = timer.split(":");
  const shard = Number(index) as ShardIndex;
  return kind === "retry" ? { type: "RetryDue", shard } : { type: "WatchdogDue", shard };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts a lifecycle actor in its starting snapshot (Disconnected unless `snapshot` says
 * otherwise). Send it a `TokenLoaded` (or a `TokenInvalid` when there is no usable token).
 *
 * @example
 * ```ts
 * const actor = createActor({ ports, lifecycle: { subscriptions: { tokens: [256265], mode: "full" } } });
 * actor.send({ type: "TokenLoaded", token, fingerprint: fingerprint(token), source: "startup" });
 * ```
 */
export function createActor(options: ActorOptions): Actor {
  const { ports, random = Math.random } = options;
  const { clock } = ports;
  let current = options.snapshot ?? initialSnapshot(clock.now(), options.lifecycle);
  const mailbox: Event[] = [];
  const listeners = new Set<Listener>();
  const timers = new Map<TimerName, TimerId>();
  const settling = new Set<Promise<unknown>>();
  const stopped = Promise.withResolvers<void>();
  let draining = false;
  let accepting = true;

  function log(level: LogLevel, message: string): void {
    try {
      ports.log(level, message);
    } catch {
      // A broken logger must not take the feed down with it.
    }
  }

  /** Calls a port; reports a throw or a rejection to `onError`, and tracks its promise. */
  function call(action: () => unknown, onError: (detail: string) => void): void {
    let result: unknown;
    try {
      result = action();
    } catch (error: unknown) {
      onError(describe(error));
      return;
    }
    if (!(result instanceof Promise)) return;
    const settled = result.then(undefined, (error: unknown) => onError(describe(error)));
    settling.add(settled);
    settled.finally(() => settling.delete(settled));
  }

  function logFailure(what: string): (detail: string) => void {
    return (detail) => log("error", `Failed to ${what}: ${detail}`);
  }

  function cancelTimer(timer: TimerName): void {
    const id = timers.get(timer);
    if (id === undefined) return;
    clock.clearTimeout(id);
    timers.delete(timer);
  }

  function startTimer(timer: TimerName, ms: number): void {
    cancelTimer(timer);
    const id = clock.setTimeout(function timerFired() {
      if (timers.get(timer) === id) timers.delete(timer);
      send(timerEvent(timer));
    }, ms);
    timers.set(timer, id);
  }

  function probe(token: string, fingerprint: string): void {
    function report(report: ProbeReport): void {
      send({ type: "ProbeResult", fingerprint, ...report });
    }
    function failed(detail: string): void {
      report({ result: "error", detail: detail.replaceAll(token, fingerprint) });
    }
    // Probes are not awaited by stop(): their answer would be dropped anyway.
    try {
      ports.probe(token).then(report, (error: unknown) => failed(describe(error)));
    } catch (error: unknown) {
      failed(describe(error));
    }
  }

  function run(effect: Effect): void {
    switch (effect.type) {
      case "OpenSocket": {
        const { token, fingerprint, gen } = effect;
        return call(() => ports.socket.open(token, gen), (detail) => {
          const safe = detail.replaceAll(token, fingerprint);
          send({ type: "SocketFailed", gen, kind: "network", detail: safe });
        });
      }
      case "CloseSocket":
        return call(() => ports.socket.close(effect.gen), logFailure(`close gen ${effect.gen}`));
      case "Subscribe":
        return call(
          () => ports.socket.subscribe(effect.gen, effect.tokens, effect.mode),
          logFailure(`subscribe on gen ${effect.gen}`),
        );
      case "Unsubscribe":
        return call(
          () => ports.socket.unsubscribe(effect.gen, effect.tokens),
          logFailure(`unsubscribe on gen ${effect.gen}`),
        );
      case "StartTimer":
        return startTimer(effect.timer, effect.ms);
      case "CancelTimer":
        return cancelTimer(effect.timer);
      case "Probe":
        return probe(effect.token, effect.fingerprint);
      case "NotifyLoginNeeded":
        return call(() => ports.notify(effect.reason), logFailure("notify a login is needed"));
      case "RemindLogin":
        return call(
          () => ports.notify(effect.reason, { kind: "reminder" }),
          logFailure("remind of a login"),
        );
      case "Log":
        return log(effect.level, effect.message);
    }
  }

  function handle(event: Event): void {
    const previous = current;
    try {
      const next = transition(previous, event, { now: clock.now(), random: random() });
      current = next.snapshot;
      for (const effect of next.effects) run(effect);
    } catch (error: unknown) {
      log("error", `Failed to handle ${event.type}: ${describe(error)}`);
    }
    if (event.type === "Stop") {
      for (const timer of [...timers.keys()]) cancelTimer(timer);
      stopped.resolve();
    }
    if (current === previous) return;
    for (const listener of [...listeners]) {
      try {
        listener(current, previous);
      } catch (error: unknown) {
        log("error", `Failed to notify an observer: ${describe(error)}`);
      }
    }
  }

  function send(event: Event): void {
    if (!accepting) return;
    if (event.type === "Stop") accepting = false;
    mailbox.push(event);
    if (draining) return; // The loop below picks it up after the current event.
    draining = true;
    try {
      for (let next = mailbox.shift(); next; next = mailbox.shift()) handle(next);
    } finally {
      draining = false;
    }
  }

  return {
    send,
    snapshot: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return function unsubscribe() {
        listeners.delete(listener);
      };
    },
    listenerCount: () => listeners.size,
    async stop() {
      send({ type: "Stop" });
      await stopped.promise;
      await Promise.allSettled([...settling]);
    },
  };
}
