/**
 * Runs the lease against Redis: one operation at a time, timed by an injected clock, each
 * answer fed to the pure {@linkcode leaseStep}; says when upstream must open or close. The
 * claim (take the lease if free, keep it if ours, with a fencing number from `INCR`) and the
 * release (delete it only if still ours) are Lua scripts, so each is one atomic step in Redis.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import {
  type Holder,
  initialLease,
  type LeaseOp,
  type LeaseOutcome,
  type LeaseState,
  leaseStep,
  type LeaseTiming,
} from "./lease.ts";
import { describeRedisFailure } from "./redis_failure.ts";
import type { RedisLink, RedisReply } from "./redis_link.ts";

// KEYS: lease, fence. ARGV: node, ttl ms, lowest fence to hand out minus one.
// Ours already: extend it. Free: INCR the fence (never below ARGV[3] + 1, so fences keep
// growing across a Redis that lost its data) and SET NX PX. Another node's: name it.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  local node, fence = string.match(v, '^(.*)|(%d+)$')
  if node == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, fence}
  end
  return {0, v}
end
local f = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if f <= floor then
  f = floor + 1
  redis.call('SET', KEYS[2], f)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. f, 'NX', 'PX', ARGV[2])
return {1, tostring(f)}
`;

// KEYS: lease. ARGV: the exact value we set. Deletes the lease only if it is still ours.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** What {@linkcode keepLease} reports when upstream must change. */
export interface LeaseChange {
  readonly upstream: "open" | "close";
  readonly state: LeaseState;
}

/** Options of {@linkcode keepLease}. */
export interface LeaseKeeperOptions {
  readonly keys: ClusterKeys;
  /** This node's name on the lease (no `|`), e.g. `host:pid`. */
  readonly node: string;
  readonly timing: LeaseTiming;
  readonly clock: Clock;
  /** Called when upstream must open or close; must not throw. */
  readonly onChange: (change: LeaseChange) => void;
}

/** A running lease loop. */
export interface LeaseKeeper {
  /** This node's current view of the lease. */
  state(): LeaseState;
  /**
   * Stops the loop and, when holding, reports `close` and then releases the lease
   * (compare-and-delete), so a standby can take over at its next poll. Call it after
   * upstream is closed.
   */
  stop(): Promise<void>;
}

/** `node|fence` → a holder, or `null` for anything else. */
export function parseHolder(value: RedisReply): Holder | null {
  if (typeof value !== "string") return null;
  const match = /^(.*)\|(\d+)$/.exec(value);
  if (match === null) return null;
  return { node: match[1] ?? "", fence: Number(match[2]) };
}

/** Starts competing for the lease of `options.keys` through `link`. */
export function keepLease(link: RedisLink, options: LeaseKeeperOptions): LeaseKeeper {
  const { keys, node, timing, clock } = options;
  if (node.includes("|") || node === "") {
    throw new TypeError(`Invalid node name ${JSON.stringify(node)}: empty or holds "|"`);
  }
  // A command must answer before the next renewal is due.
  const timeoutMs = Math.min(1_000, timing.renewMs);
  let state = initialLease();
  let opTimer: TimerId | undefined;
  let deadline: TimerId | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  function apply(outcome: LeaseOutcome): LeaseOp | undefined {
    if (stopped) return undefined;
    const step = leaseStep(state, outcome, timing);
    state = step.state;
    if (deadline !== undefined) clock.clearTimeout(deadline);
    deadline = undefined;
    // Past validUntil the failing operations themselves decide; a tick is for the future.
    if (state.role === "holder" && state.validUntil > clock.now()) {
      const validUntil = state.validUntil;
      deadline = clock.setTimeout(
        () => {
          deadline = undefined;
          if (apply({ kind: "tick", at: clock.now() }) !== undefined && inFlight === undefined) {
            schedule();
          }
        },
        validUntil - clock.now(),
      );
    }
    if (step.upstream !== null) options.onChange({ upstream: step.upstream, state });
    nextOp = step.next;
    return step.next.op;
  }

  let nextOp: { op: LeaseOp; at: number } = { op: "acquire", at: clock.now() };

  function schedule(): void {
    if (stopped) return;
    if (opTimer !== undefined) clock.clearTimeout(opTimer);
    opTimer = clock.setTimeout(() => {
      opTimer = undefined;
      inFlight = runOp(nextOp.op).finally(() => {
        inFlight = undefined;
        schedule();
      });
    }, Math.max(0, nextOp.at - clock.now()));
  }

  async function runOp(op: LeaseOp): Promise<void> {
    const sentAt = clock.now();
    let outcome: LeaseOutcome;
    try {
      if (op === "observe") {
        const reply = await link.send(["GET", keys.lease], { timeoutMs });
        outcome = { kind: "held_by", holder: parseHolder(reply), at: clock.now() };
      } else {
        const floor = state.role === "holder" ? state.fence : state.fenceSeen;
        const reply = await link.send(
          ["EVAL", CLAIM, "2", keys.lease, keys.fence, node, String(timing.ttlMs), String(floor)],
          { timeoutMs },
        );
        outcome = claimOutcome(reply, { sentAt, at: clock.now() });
      }
    } catch (error: unknown) {
      // The link knows why it is down (refused, timeout…); a reply error is the server's.
      const failure = link.problem()?.failure ??
        describeRedisFailure(error, { where: link.where, connecting: false }).failure;
      outcome = { kind: "failed", failure, at: clock.now() };
    }
    apply(outcome);
  }

  function claimOutcome(reply: RedisReply, times: { sentAt: number; at: number }): LeaseOutcome {
    if (Array.isArray(reply) && reply[0] === 1) {
      return { kind: "claimed", fence: Number(reply[1]), ...times };
    }
    const holder = Array.isArray(reply) ? parseHolder(reply[1] ?? null) : null;
    return { kind: "held_by", holder, at: times.at };
  }

  schedule();

  return {
    state: () => state,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (opTimer !== undefined) clock.clearTimeout(opTimer);
      if (deadline !== undefined) clock.clearTimeout(deadline);
      await inFlight;
      const last = state;
      state = initialLease();
      if (last.role !== "holder") return;
      // Upstream first: once released, a standby may open at once.
      options.onChange({ upstream: "close", state });
      try {
        await link.send(["EVAL", RELEASE, "1", keys.lease, `${node}|${last.fence}`], {
          timeoutMs,
        });
      } catch {
        // Unreachable: the lease lapses by itself within its TTL.
      }
    },
  };
}
