/**
 * Helpers for daemon tests over the shared harness (`src/testing/daemon_harness.ts`, which starts
 * the simulator, the `.env` and the daemon): feed checks and a clock that jumps.
 *
 * @module
 */
import { type Clock, systemClock } from "../../src/clock.ts";
import type { Daemon } from "../../src/daemon.ts";

/** True when the feed holds a tick for every one of `tokens`. */
export function hasTicksFor(daemon: Daemon, tokens: readonly number[]): boolean {
  const { instruments } = daemon.feed.snapshot();
  return tokens.every((token) => instruments[token] !== undefined);
}

/** The real clock, shifted by a settable offset: time jumps without waiting. */
export function skewedClock(): Clock & { skew: number } {
  const timers = systemClock();
  return {
    skew: 0,
    now() {
      return Date.now() + this.skew;
    },
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
  };
}
