/**
 * One kitekeeper as a node of a cluster: what the daemon loads (by dynamic import, only with
 * `KITEKEEPER_REDIS_URL`) to compete for the feed lease, gate its upstream sockets by it,
 * share the token and login states, publish ticks to the bus while holding and read them from
 * it while standing by, and say all of it in `/status`.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { type Config, ConfigError } from "../config.ts";
import type { Gap } from "../feed/gap_tracker.ts";
import type { Tick } from "../kite/packets.ts";
import type { Actor, SocketPort } from "../lifecycle/actor.ts";
import type { Event, ShardPlan, Snapshot, StateName } from "../lifecycle/machine.ts";
import type { Mode } from "../kite/packets.ts";
import { planShards, samePlans } from "../endpoint/shard_plan.ts";
import {
  formatWants,
  type NodeWants,
  parseWants,
  unionWanted,
  wantedOf,
} from "./wanted_instruments.ts";
import type { Logger } from "../log.ts";
import type { ClusterStatus, StatusBody } from "../ops/status_body.ts";
import { writeToken } from "../token/env_file.ts";
import { fingerprint } from "../token/fingerprint.ts";
import { createLoginStates, type LoginStates } from "../token/login_state.ts";
import { clusterKeys } from "./cluster_keys.ts";
import { gateSockets, type LeaseGate } from "./lease_gate.ts";
import { leaseTiming } from "./lease.ts";
import { keepLease, type LeaseKeeper } from "./lease_keeper.ts";
import { connectRedis, type RedisLink } from "./redis_link.ts";
import { deriveClusterSecrets } from "./secret_keys.ts";
import { shareLoginStates } from "./shared_login_states.ts";
import { type SharedToken, shareToken } from "./shared_token.ts";
import { type BusEvent, openTickBus, type TickBus } from "./tick_bus.ts";
import { type BusTick, followTickBus, type TickBusReader } from "./tick_bus_reader.ts";

/** What the node needs from the daemon at start. */
export interface ClusterNodeOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** The real upstream socket port (the ticker); only the gate opens it. */
  readonly sockets: SocketPort;
  /** Delivers an event to the lifecycle (the actor's `send`). */
  send(event: Event): void;
}

/** What the node needs once the daemon's parts exist. */
export interface ClusterAttachment {
  readonly lifecycle: Pick<Actor, "snapshot" | "subscribe">;
  /** Ticks read from the bus while standing by: record and fan out as upstream ticks. */
  onBusTicks(ticks: readonly Tick[], at: number): void;
  /** Called after this node wrote the shared token into `.env`. */
  written(): void;
}

/** A running node. */
export interface ClusterNode extends AsyncDisposable {
  /** The socket port the lifecycle drives (the lease gate). */
  readonly port: SocketPort;
  /** Passes the real ticker's events on to the lifecycle, or swallows them. */
  filter(event: Event): Event | null;
  /** Login states every node accepts once. */
  readonly loginStates: LoginStates;
  /** Starts following the token and announcing the feed; call once, before `.env` is read. */
  attach(attachment: ClusterAttachment): Promise<void>;
  /**
   * The local endpoint's plan: shared with the holder through Redis; the holder subscribes
   * every node's wants. Use it instead of sending `PlanChanged` to the lifecycle.
   */
  plan(plan: readonly ShardPlan[]): void;
  /** Upstream ticks: onto the bus while holding. */
  publishTicks(ticks: readonly Tick[], at: number): void;
  /** A gap in the feed, announced on the events channel while holding. */
  gap(gap: Gap): void;
  /** `/status` as the cluster sees it: the role, and a standby shows the holder's state. */
  decorate(body: StatusBody): StatusBody;
}

/** How often a holder re-announces its state, and how long the announcement lasts. */
const ANNOUNCE_EVERY_MS = 2_000;
const ANNOUNCEMENT_TTL_MS = 3 * ANNOUNCE_EVERY_MS;
/** A node's wants not refreshed for this long are a gone node's. */
const WANTS_STALE_MS = 5 * ANNOUNCE_EVERY_MS;
/** How long a login state lasts (as `createLoginStates`'s default). */
const LOGIN_STATE_TTL_MS = 10 * 60_000;

type StateNotice = Extract<BusEvent, { type: "state" }>;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Connects to Redis and starts competing for the lease. Throws an `Error` whose message is
 * one line for the operator (a `ConfigError`: exit 2) when Redis cannot be used (wrong URL,
 * password, not Redis).
 */
export async function startClusterNode(
  config: Config & { readonly cluster: NonNullable<Config["cluster"]> },
  options: ClusterNodeOptions,
): Promise<ClusterNode> {
  const { clock, log } = options;
  let link: RedisLink;
  try {
    link = await connectRedis(config.cluster.redisUrl);
  } catch (error: unknown) {
    throw new ConfigError(describe(error)); // One line, then exit 2.
  }
  const name = config.cluster.name ?? await fingerprint(config.apiKey);
  const keys = clusterKeys(name);
  const secrets = await deriveClusterSecrets(config.apiSecret, name);
  // Unique per daemon, not per process: tests run several in one.
  const node = `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 4)}`;
  const timing = leaseTiming(config.cluster.leaseMs);
  const gate: LeaseGate = gateSockets(options.sockets, {
    send: options.send,
    clock,
    heartbeatMs: Math.max(50, Math.floor(config.stallMs / 3)),
  });
  const bus: TickBus = openTickBus(link, {
    keys,
    fence: () => {
      const state = keeper.state();
      return state.role === "holder" ? state.fence : 0;
    },
    stateTtlMs: ANNOUNCEMENT_TTL_MS,
  });
  const loginStates = shareLoginStates(
    await createLoginStates({ now: () => clock.now(), key: secrets.stateKey }),
    link,
    { keys, ttlMs: LOGIN_STATE_TTL_MS, now: () => clock.now() },
  );
  let attachment: ClusterAttachment | undefined;
  let holding = false;
  let received = 0;
  let announced: StateNotice | null = null;
  // When this node last heard the holder's state (local clock): old news is no news.
  let heardAt = 0;
  let shared: SharedToken | undefined;
  let reader: TickBusReader | undefined;
  let announceTimer: TimerId | undefined;
  let unsubscribe = () => {};
  // The lifecycle starts on the configured instruments, on shard 0.
  const base = new Map<number, Mode>(config.instruments.map((token) => [token, config.mode]));
  let localWanted: ReadonlyMap<number, Mode> = base;
  let sentPlan: readonly ShardPlan[] = [{ instruments: base }];
  let remoteWants = new Map<string, NodeWants>();

  /** Sends the lifecycle the plan: the union of every node's wants while holding. */
  function applyPlan(): void {
    const now = clock.now();
    const fresh = [...remoteWants.values()]
      .filter((entry) => now - entry.at < WANTS_STALE_MS)
      .map((entry) => entry.wants);
    const wanted = holding ? unionWanted([localWanted, ...fresh]) : localWanted;
    let next: ShardPlan[];
    try {
      next = planShards(sentPlan, wanted);
    } catch (error: unknown) {
      log("warn", `Serving this node's instruments only: ${describe(error)}`);
      next = planShards(sentPlan, localWanted);
    }
    if (samePlans(sentPlan, next)) return;
    sentPlan = next;
    options.send({ type: "PlanChanged", plan: next });
  }

  async function shareWants(): Promise<void> {
    try {
      await link.send(["HSET", keys.wants, node, formatWants(localWanted, clock.now())]);
      await link.send(["PUBLISH", keys.events, JSON.stringify({ type: "wants", node })]);
    } catch {
      // Out of reach: shared again with the next refresh.
    }
  }

  async function readWants(): Promise<void> {
    if (!holding) return;
    try {
      const flat = await link.send(["HGETALL", keys.wants]);
      const next = new Map<string, NodeWants>();
      if (Array.isArray(flat)) {
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const entry = parseWants(String(flat[i + 1]));
          if (entry !== null && flat[i] !== node) next.set(String(flat[i]), entry);
        }
      }
      remoteWants = next;
      applyPlan();
    } catch {
      // Out of reach: the plan stays as it is.
    }
  }

  function announceState(): void {
    if (!holding || attachment === undefined) return;
    const { state } = attachment.lifecycle.snapshot();
    const lease = keeper.state();
    const notice: StateNotice = {
      type: "state",
      node,
      fence: lease.role === "holder" ? lease.fence : 0,
      state: state.name,
      since: state.since,
      reason: "reason" in state ? state.reason : "data flowing",
    };
    announced = notice;
    bus.announce(notice);
  }

  function tickAnnouncements(): void {
    announceTimer = clock.setTimeout(() => {
      announceState();
      void shareWants();
      void readWants();
      tickAnnouncements();
    }, ANNOUNCE_EVERY_MS);
  }

  const keeper: LeaseKeeper = keepLease(link, {
    keys,
    node,
    timing,
    clock,
    onChange(change) {
      if (change.upstream === "open") {
        holding = true;
        const fence = change.state.role === "holder" ? change.state.fence : 0;
        log(
          "info",
          `Holding the feed lease of cluster ${name} (fence ${fence}): upstream opens here`,
        );
        gate.hold();
        announceState();
        void readWants();
      } else {
        holding = false;
        gate.standBy();
        applyPlan();
        log("warn", `Standing by in cluster ${name}: this node holds no upstream socket`);
      }
    },
  });

  async function readAnnouncement(): Promise<void> {
    if (holding) return;
    try {
      const text = await link.send(["GET", keys.state]);
      announced = typeof text === "string" ? JSON.parse(text) as StateNotice : null;
      heardAt = clock.now();
    } catch {
      // Out of reach: the status says so through the link's problem.
    }
  }

  function onBusTicks(ticks: readonly BusTick[]): void {
    if (holding || attachment === undefined) return;
    received += ticks.length;
    // One call per run of ticks the holder got at the same instant.
    let start = 0;
    for (let i = 1; i <= ticks.length; i++) {
      if (i === ticks.length || ticks[i]!.origin.at !== ticks[start]!.origin.at) {
        const run = ticks.slice(start, i).map((read) => read.tick);
        try {
          attachment.onBusTicks(run, ticks[start]!.origin.at);
        } catch (error: unknown) {
          log("warn", `Skipped ${run.length} tick(s) from the bus: ${describe(error)}`);
        }
        start = i;
      }
    }
  }

  async function takeToken(token: string, print: string): Promise<void> {
    try {
      await writeToken(config.envFile, token, { maxBytes: config.envMaxBytes });
      attachment?.written();
    } catch (error: unknown) {
      log(
        "error",
        `Failed to write the cluster token ${print} to ${config.envFile}: ${describe(error)}`,
      );
    }
    options.send({ type: "TokenLoaded", token, fingerprint: print, source: "file" });
  }

  function publishIfOurs(snapshot: Snapshot, previous: Snapshot, redisHadToken: boolean): void {
    const token = snapshot.token;
    if (token === null || token.fingerprint === previous.token?.fingerprint) return;
    if (token.source === "startup" && redisHadToken) return; // Redis's is the newer.
    const expiresAt = snapshot.expectedExpiry ?? clock.now() + 24 * 3_600_000;
    shared?.publish(token.token, { expiresAt }).catch((error: unknown) => {
      log("warn", `Failed to publish token ${token.fingerprint} to Redis: ${describe(error)}`);
    });
  }

  let pollTimer: TimerId | undefined;
  function pollAnnouncement(): void {
    pollTimer = clock.setTimeout(() => {
      readAnnouncement().finally(pollAnnouncement);
    }, 1_000);
  }

  function clusterStatus(): ClusterStatus {
    const lease = keeper.state();
    const stats = bus.stats();
    return {
      name,
      node,
      holder: lease.role === "holder" ? { node, fence: lease.fence } : lease.holder,
      redis: { url: link.where, problem: link.problem()?.line ?? null },
      bus: {
        published: stats.published,
        dropped: stats.dropped,
        failed: stats.failed,
        received,
      },
    };
  }

  return {
    port: gate.port,
    filter: (event) => gate.filter(event),
    loginStates,
    async attach(parts) {
      attachment = parts;
      let redisHadToken = false;
      shared = await shareToken(link, {
        keys,
        tokenKey: secrets.tokenKey,
        node,
        clock,
        log,
        onToken(token, print) {
          redisHadToken = true;
          void takeToken(token, print);
        },
      });
      unsubscribe = parts.lifecycle.subscribe((snapshot, previous) => {
        publishIfOurs(snapshot, previous, redisHadToken);
        if (snapshot.state !== previous.state) announceState();
      });
      reader = await followTickBus(link, {
        keys,
        onTicks: onBusTicks,
        onEvent(event) {
          if (event.type === "state" && !holding) {
            announced = event;
            heardAt = clock.now();
          }
          if (event.type === "wants" && event.node !== node) void readWants();
        },
      });
      await readAnnouncement();
      tickAnnouncements();
      pollAnnouncement();
    },
    plan(plan) {
      localWanted = wantedOf(plan);
      void shareWants();
      applyPlan();
    },
    publishTicks(ticks, at) {
      if (holding) bus.publish(ticks, at);
    },
    gap(gap) {
      const lease = keeper.state();
      if (!holding || lease.role !== "holder") return;
      bus.announce({
        type: "gap",
        node,
        fence: lease.fence,
        from: gap.start,
        to: gap.end,
        reason: `shard ${gap.shard}: ${gap.cause}`,
      });
    },
    decorate(body) {
      const cluster = clusterStatus();
      if (holding) return { ...body, role: "holder", cluster };
      const silentMs = clock.now() - heardAt;
      const notice = silentMs > ANNOUNCEMENT_TTL_MS ? null : announced;
      const view = notice === null
        ? {
          state: "Disconnected" as StateName,
          since: new Date(clock.now()).toISOString(),
          reason: cluster.redis.problem === null
            ? "standby: no holder has announced a feed through Redis"
            : `standby: no word from a holder (${cluster.redis.problem})`,
        }
        : {
          state: notice.state as StateName,
          since: new Date(notice.since).toISOString(),
          reason: `standby; holder ${notice.node} (fence ${notice.fence}): ${notice.reason}`,
        };
      return { ...body, ...view, role: "standby", cluster };
    },
    async [Symbol.asyncDispose]() {
      unsubscribe();
      if (announceTimer !== undefined) clock.clearTimeout(announceTimer);
      if (pollTimer !== undefined) clock.clearTimeout(pollTimer);
      shared?.stop();
      await link.send(["HDEL", keys.wants, node]).catch(() => {});
      await reader?.stop();
      await bus.close();
      await keeper.stop(); // Reports close (the gate closes upstream), then releases.
      gate[Symbol.dispose]();
      await link.close();
    },
  };
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "node"; // No --allow-sys: the pid still tells nodes on one host apart.
  }
}
