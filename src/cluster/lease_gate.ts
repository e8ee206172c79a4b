/**
 * The upstream socket port as the lease allows it: only a lease holder opens real sockets.
 * On a standby, each socket the lifecycle opens is *virtual*: it reports `SocketOpened` and a
 * `DataReceived` every `heartbeatMs`, and records the subscriptions sent to it, so the
 * lifecycle runs as usual (token, plan, probes) without Kite. When the node takes the lease,
 * every virtual socket is opened for real under the same generation and its subscriptions
 * are replayed once the handshake is done; when it loses the lease, its real sockets close at
 * once and turn virtual again. The lifecycle machine never learns the difference, so a
 * takeover needs no backoff and no new token.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Mode } from "../kite/packets.ts";
import type { SocketPort } from "../lifecycle/actor.ts";
import type { Event } from "../lifecycle/machine.ts";

/** How one generation's socket stands. */
type Phase =
  /** Opened by the lifecycle while holding: a plain real socket, events pass through. */
  | "real"
  /** Opened for real on taking the lease: its `SocketOpened` is ours (we replay). */
  | "reviving"
  /** No socket: the lifecycle is told it is open and alive. */
  | "virtual";

interface Generation {
  readonly token: string;
  phase: Phase;
  /** Whether the lifecycle has been told it opened. */
  announced: boolean;
  /** What the lifecycle subscribed on it: instrument → mode. */
  readonly subscriptions: Map<number, Mode>;
}

/** The gate; `port` goes to the actor, `filter` sits between the real ticker and the actor. */
export interface LeaseGate extends Disposable {
  /** The socket port the lifecycle drives. */
  readonly port: SocketPort;
  /** Passes on the real ticker's event, or swallows it (`null`). */
  filter(event: Event): Event | null;
  /** The lease is ours: virtual sockets open for real. */
  hold(): void;
  /** The lease is not ours: real sockets close now and turn virtual. */
  standBy(): void;
  /** How many real sockets are open or opening. */
  realSockets(): number;
}

/** Options of {@linkcode gateSockets}. */
export interface LeaseGateOptions {
  /** Delivers an event to the lifecycle (the actor's `send`). */
  send(event: Event): void;
  readonly clock: Clock;
  /** A virtual socket's heartbeat period: below the lifecycle's stall limit. */
  readonly heartbeatMs: number;
}

function byMode(subscriptions: ReadonlyMap<number, Mode>): Map<Mode, number[]> {
  const groups = new Map<Mode, number[]>();
  for (const [token, mode] of subscriptions) {
    const group = groups.get(mode);
    if (group === undefined) groups.set(mode, [token]);
    else group.push(token);
  }
  return groups;
}

/** Wraps `real` so that it opens sockets only while the node holds the lease. */
export function gateSockets(real: SocketPort, options: LeaseGateOptions): LeaseGate {
  const { send, clock } = options;
  const generations = new Map<number, Generation>();
  let holding = false;
  let timer: TimerId | undefined;

  function beat(): void {
    timer = undefined;
    for (const [gen, generation] of generations) {
      if (generation.phase === "virtual") send({ type: "DataReceived", gen });
    }
    schedule();
  }

  function schedule(): void {
    const virtual = [...generations.values()].some((generation) => generation.phase === "virtual");
    if (virtual && timer === undefined) timer = clock.setTimeout(beat, options.heartbeatMs);
  }

  function goVirtual(gen: number, generation: Generation): void {
    generation.phase = "virtual";
    schedule();
    // As a socket would: the open is reported after the call, not inside it.
    generation.announced = true;
    queueMicrotask(() => {
      if (generations.get(gen) === generation) send({ type: "SocketOpened", gen });
    });
  }

  const port: SocketPort = {
    open(token, gen) {
      const generation: Generation = {
        token,
        phase: "real",
        announced: false,
        subscriptions: new Map(),
      };
      generations.set(gen, generation);
      if (holding) real.open(token, gen);
      else goVirtual(gen, generation);
    },
    close(gen) {
      const generation = generations.get(gen);
      generations.delete(gen);
      if (generation !== undefined && generation.phase !== "virtual") real.close(gen);
    },
    subscribe(gen, tokens, mode) {
      const generation = generations.get(gen);
      if (generation === undefined) return;
      for (const token of tokens) generation.subscriptions.set(token, mode);
      if (generation.phase === "real") real.subscribe(gen, tokens, mode);
    },
    unsubscribe(gen, tokens) {
      const generation = generations.get(gen);
      if (generation === undefined) return;
      for (const token of tokens) generation.subscriptions.delete(token);
      if (generation.phase === "real") real.unsubscribe(gen, tokens);
    },
  };

  return {
    port,
    filter(event) {
      if (!("gen" in event)) return event;
      const generation = generations.get(event.gen);
      if (generation === undefined || generation.phase === "virtual") return null;
      if (generation.phase === "reviving" && event.type === "SocketOpened") {
        generation.phase = "real";
        // The takeover's replay: everything the lifecycle had subscribed, by mode.
        for (const [mode, tokens] of byMode(generation.subscriptions)) {
          real.subscribe(event.gen, tokens, mode);
        }
        return null;
      }
      if (event.type === "SocketOpened") generation.announced = true;
      return event;
    },
    hold() {
      if (holding) return;
      holding = true;
      for (const [gen, generation] of generations) {
        if (generation.phase !== "virtual") continue;
        generation.phase = "reviving";
        real.open(generation.token, gen);
      }
    },
    standBy() {
      if (!holding) return;
      holding = false;
      for (const [gen, generation] of generations) {
        if (generation.phase === "virtual") continue;
        real.close(gen);
        // A real socket still opening was waiting for its SocketOpened: the virtual one says it.
        if (generation.announced) generation.phase = "virtual";
        else goVirtual(gen, generation);
      }
      schedule();
    },
    realSockets: () =>
      [...generations.values()].filter((generation) => generation.phase !== "virtual").length,
    [Symbol.dispose]() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      generations.clear();
    },
  };
}
