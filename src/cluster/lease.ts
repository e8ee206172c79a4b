/**
 * The feed lease, decided purely: given what the last Redis operation answered (or the time
 * passing), {@linkcode leaseStep} says whether this node holds the lease, whether its upstream
 * sockets must open or close, and which operation to run when. No I/O, no clock: every
 * outcome carries its times, so tests drive it with plain numbers.
 *
 * The rule that reconciles "fail safe" with "a Redis outage never stops a working feed":
 * a holder keeps its upstream sockets while
 *   (a) its last successful renewal was sent less than `ttlMs − driftMs` ago: Redis surely
 *       still holds the lease for it, so no other node can have it; or
 *   (b) after that, the latest attempt to reach Redis was *refused* (the Redis process is
 *       down: no node can hold any lease; a restarted Redis comes back empty and the
 *       holder's next renewal takes the lease again before standbys may, since they wait one
 *       `ttlMs` after they see Redis again).
 * Otherwise (a timeout, a dropped or unanswered connection, another node's name on the
 * lease) it closes upstream at once and becomes a standby. It stops at `ttlMs − driftMs`,
 * before the lease can lapse in Redis, not later once it has surely lapsed: so a standby that
 * takes the lapsed lease never overlaps with it. A standby opens upstream only after its own
 * acquisition succeeded.
 *
 * @module
 */
import type { RedisFailure } from "./redis_failure.ts";

/** The lease's timing. */
export interface LeaseTiming {
  /** The lease's TTL in Redis. */
  readonly ttlMs: number;
  /** A holder renews this often (a third of the TTL: two renewals may fail before it lapses). */
  readonly renewMs: number;
  /** A standby checks the lease this often; also the retry delay after a failure. */
  readonly pollMs: number;
  /** Allowance for clock-rate differences between this node and Redis. */
  readonly driftMs: number;
}

/** The timing for a TTL: renew at a third, poll at min(250 ms, a quarter), drift 1 % + 5 ms. */
export function leaseTiming(ttlMs: number): LeaseTiming {
  if (!(Number.isInteger(ttlMs) && ttlMs >= 300)) {
    throw new RangeError(`Failed to set the lease time: ${ttlMs} ms is not an integer ≥ 300`);
  }
  return Object.freeze({
    ttlMs,
    renewMs: Math.floor(ttlMs / 3),
    pollMs: Math.min(250, Math.floor(ttlMs / 4)),
    driftMs: Math.ceil(ttlMs / 100) + 5,
  });
}

/** Who holds the lease. */
export interface Holder {
  readonly node: string;
  readonly fence: number;
}

/** This node's view of the lease. */
export type LeaseState =
  | {
    readonly role: "standby";
    /** The holder last seen, `null` when the lease was free (or never seen). */
    readonly holder: Holder | null;
    /** Why Redis is out of reach now, or `null`. */
    readonly problem: RedisFailure | null;
    /** No acquisition before this time (a running holder's head start after an outage). */
    readonly quietUntil: number;
    /** The highest fence seen; an acquisition asks Redis for a higher one. */
    readonly fenceSeen: number;
  }
  | {
    readonly role: "holder";
    readonly fence: number;
    /** Until then Redis surely holds the lease for us: last renewal sent + TTL − drift. */
    readonly validUntil: number;
    /** Why the latest attempt failed since the last renewal, or `null`. */
    readonly problem: RedisFailure | null;
  };

/** What the last operation answered, or that time passed (`tick`). */
export type LeaseOutcome =
  | {
    /** Redis holds the lease for us under `fence` (taken, or kept), since `sentAt` at least. */
    readonly kind: "claimed";
    readonly fence: number;
    readonly sentAt: number;
    readonly at: number;
  }
  /** Another node holds it (or, from an `observe`, nobody: `null`). */
  | { readonly kind: "held_by"; readonly holder: Holder | null; readonly at: number }
  | { readonly kind: "failed"; readonly failure: RedisFailure; readonly at: number }
  | { readonly kind: "tick"; readonly at: number };

/** The operation to run next: try to take the lease, only look at it, or renew ours. */
export type LeaseOp = "acquire" | "observe" | "renew";

/** What {@linkcode leaseStep} decided. */
export interface LeaseStep {
  readonly state: LeaseState;
  /** Open or close upstream now; `null` leaves it as it is. */
  readonly upstream: "open" | "close" | null;
  /** The next operation and when (ms since the epoch). */
  readonly next: { readonly op: LeaseOp; readonly at: number };
}

/** A standby that has seen nothing yet. */
export function initialLease(): LeaseState {
  return { role: "standby", holder: null, problem: null, quietUntil: 0, fenceSeen: 0 };
}

function standbyNext(
  state: LeaseState & { role: "standby" },
  at: number,
  timing: LeaseTiming,
): LeaseStep["next"] {
  const when = at + timing.pollMs;
  // While Redis is out of reach, and for one TTL after, only look: a running holder reclaims.
  const op = state.problem !== null || when < state.quietUntil ? "observe" : "acquire";
  return { op, at: when };
}

function holding(fence: number, sentAt: number, timing: LeaseTiming): LeaseStep {
  const state = {
    role: "holder" as const,
    fence,
    validUntil: sentAt + timing.ttlMs - timing.driftMs,
    problem: null,
  };
  return { state, upstream: null, next: { op: "renew", at: sentAt + timing.renewMs } };
}

/** A standby step: the state from `fields`, upstream as given, the next look a poll away. */
function standingBy(
  fields: Omit<LeaseState & { role: "standby" }, "role">,
  options: { at: number; upstream: "close" | null; timing: LeaseTiming },
): LeaseStep {
  const state = { role: "standby" as const, ...fields };
  return {
    state,
    upstream: options.upstream,
    next: standbyNext(state, options.at, options.timing),
  };
}

function standbyStep(
  state: LeaseState & { role: "standby" },
  outcome: LeaseOutcome,
  timing: LeaseTiming,
): LeaseStep {
  switch (outcome.kind) {
    case "claimed":
      return { ...holding(outcome.fence, outcome.sentAt, timing), upstream: "open" };
    case "held_by": {
      const holder = outcome.holder;
      // Redis answers again after an outage: give a running holder one TTL to reclaim.
      const quietUntil = state.problem === null ? state.quietUntil : outcome.at + timing.ttlMs;
      const fenceSeen = Math.max(state.fenceSeen, holder?.fence ?? 0);
      return standingBy({ holder, problem: null, quietUntil, fenceSeen }, {
        at: outcome.at,
        upstream: null,
        timing,
      });
    }
    case "failed":
    case "tick": {
      const problem = outcome.kind === "failed" ? outcome.failure : state.problem;
      return standingBy({ ...state, problem }, { at: outcome.at, upstream: null, timing });
    }
  }
}

function holderStep(
  state: LeaseState & { role: "holder" },
  outcome: LeaseOutcome,
  timing: LeaseTiming,
): LeaseStep {
  switch (outcome.kind) {
    case "claimed":
      // The same fence is a renewal; a new one means our renewal found the lease gone (a
      // restarted Redis) and took it again.
      return holding(outcome.fence, outcome.sentAt, timing);
    case "held_by": {
      const holder = outcome.holder;
      const fenceSeen = Math.max(state.fence, holder?.fence ?? 0);
      return standingBy({ holder, problem: null, quietUntil: 0, fenceSeen }, {
        at: outcome.at,
        upstream: "close",
        timing,
      });
    }
    case "failed":
    case "tick": {
      const problem = outcome.kind === "failed" ? outcome.failure : state.problem;
      if (outcome.at >= state.validUntil && problem !== "refused") {
        return standingBy({ holder: null, problem, quietUntil: 0, fenceSeen: state.fence }, {
          at: outcome.at,
          upstream: "close",
          timing,
        });
      }
      // Retry soon, and look again exactly when the lease may lapse.
      const soon = outcome.at + timing.pollMs;
      const at = outcome.at < state.validUntil ? Math.min(soon, state.validUntil) : soon;
      return { state: { ...state, problem }, upstream: null, next: { op: "renew", at } };
    }
  }
}

/** Decides the lease's next step from `state` and what just happened. Pure. */
export function leaseStep(
  state: LeaseState,
  outcome: LeaseOutcome,
  timing: LeaseTiming,
): LeaseStep {
  return state.role === "standby"
    ? standbyStep(state, outcome, timing)
    : holderStep(state, outcome, timing);
}
