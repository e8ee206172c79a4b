/**
 * A lifecycle that says what the journal says: the recorded states, replayed one change at a
 * time, so the endpoint's opt-in notices (state changes, and a gap when Live comes back) go
 * to replay clients exactly as they went to live ones.
 *
 * @module
 */
import type { Actor, Listener } from "../lifecycle/actor.ts";
import { initialSnapshot, type Snapshot, type State } from "../lifecycle/machine.ts";
import type { LifecycleChange } from "./record.ts";

/** The replayed lifecycle: what the endpoint observes, and the journal's changes going in. */
export interface ReplayLifecycle extends Pick<Actor, "snapshot" | "subscribe"> {
  /** Makes `change` the current state and tells the observers. */
  apply(change: LifecycleChange): void;
}

/** The lifecycle state a recorded change stands for; `undefined` for an unknown name. */
export function recordedState(change: LifecycleChange): State | undefined {
  const { since } = change;
  const reason = change.reason ?? "";
  const fingerprint = change.fingerprint ?? "";
  switch (change.state) {
    case "Disconnected":
      return {
        name: "Disconnected",
        since,
        reason: reason === "no token yet" ? reason : "stopped",
      };
    case "Reconnecting":
      return { name: "Reconnecting", since, reason, attempt: 1, retryAt: null, fingerprint };
    case "Live":
      return { name: "Live", since, gen: 0, fingerprint };
    case "Expired":
      return { name: "Expired", since, reason, fingerprint: change.fingerprint };
    default:
      return undefined;
  }
}

/** Starts at `Disconnected` (no token yet) as of `start` (epoch ms). */
export function replayLifecycle(start: number): ReplayLifecycle {
  let current: Snapshot = initialSnapshot(start);
  const listeners = new Set<Listener>();
  return {
    snapshot: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    apply(change) {
      const state = recordedState(change);
      if (state === undefined) return;
      const previous = current;
      current = { ...current, state };
      for (const listener of listeners) listener(current, previous);
    },
  };
}
