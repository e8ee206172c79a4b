/**
 * Feeds {@linkcode observeGaps} from the lifecycle: on every snapshot change (a socket
 * opening or failing, data arriving), and on the injected clock at the next instant the
 * verdict can change without an event: a shard's silence reaching the stall limit while the
 * market is open, or the market opening or closing. An idle daemon outside market hours
 * wakes for none of it; in market hours, once per stall limit while data flows.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { Snapshot } from "../lifecycle/machine.ts";
import { marketPhase, phaseWithStart } from "../market/phase.ts";
import {
  emptyGapTally,
  type Gap,
  type GapObservation,
  gapSecondsTotal,
  type GapsToday,
  gapsToday,
  type GapTally,
  observeGaps,
} from "./gap_tracker.ts";

/** Options of {@linkcode watchGaps}. */
export interface GapWatchOptions {
  readonly lifecycle: Pick<Actor, "subscribe" | "snapshot">;
  readonly clock: Clock;
  /** Trading holidays (ISO dates, IST). */
  readonly holidays: ReadonlySet<string>;
  /** Called with each gap as it closes (for the journal). */
  readonly onGap?: (gap: Gap) => void;
}

/** A running gap watch. */
export interface GapWatch extends Disposable {
  /** `feed.gaps_today` now. */
  today(): GapsToday;
  /** `kitekeeper_feed_gap_seconds_total` now. */
  secondsTotal(): number;
}

/** What the tracker needs of a lifecycle snapshot. */
export function gapObservation(
  snapshot: Snapshot,
  at: { readonly now: number; readonly openSince: number | null },
): GapObservation {
  const { now, openSince } = at;
  return {
    now,
    openSince,
    shards: snapshot.shards.map((shard) => ({
      planned: shard.plan.size > 0,
      socket: shard.socket === null ? "none" : shard.socket.phase,
      activeAt: shard.socket?.phase === "open" ? shard.socket.activeAt : null,
    })),
  };
}

// setTimeout's longest delay; a later instant is looked at again then.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The next instant after `now` that can change the verdict on `snapshot` with no event: the
 * market's next change, and while it is open, the stall limit of each shard not yet at it (the
 * instant the lifecycle's own watchdog is due: one wakeup serves both).
 */
export function nextGapCheck(
  snapshot: Snapshot,
  at: { readonly now: number; readonly open: boolean; readonly until: number },
): number {
  let next = at.until;
  if (!at.open) return next;
  for (const shard of snapshot.shards) {
    if (shard.plan.size === 0 || shard.socket?.phase !== "open") continue;
    const stalled = shard.socket.activeAt + snapshot.config.stallMs;
    if (stalled > at.now) next = Math.min(next, stalled);
  }
  return next;
}

/** Starts watching; dispose it to stop. */
export function watchGaps(options: GapWatchOptions): GapWatch {
  const { lifecycle, clock, holidays } = options;
  let tally: GapTally = emptyGapTally(clock.now());
  // The market phase holds until next_change: the calendar is walked only then.
  let market = { openSince: null as number | null, from: -Infinity, until: -Infinity };
  let timer: TimerId | undefined;
  // When the armed timer fires (Infinity: none armed).
  let timerAt = Infinity;
  let disposed = false;

  function openSince(now: number): number | null {
    if (now < market.from || now >= market.until) {
      const { phase, since } = phaseWithStart(now, { holidays });
      market = {
        openSince: phase === "open" ? since : null,
        from: now,
        until: marketPhase(now, { holidays }).next_change,
      };
    }
    return market.openSince;
  }

  function observe(snapshot: Snapshot): void {
    const now = clock.now();
    const step = observeGaps(tally, gapObservation(snapshot, { now, openSince: openSince(now) }), {
      stallMs: snapshot.config.stallMs,
    });
    tally = step.tally;
    for (const gap of step.closed) options.onGap?.(gap);
    arm(nextGapCheck(snapshot, { now, open: market.openSince !== null, until: market.until }), now);
  }

  /**
   * Makes sure a timer fires by `at`. One armed earlier is kept (it looks, then arms for what
   * is next then), so data that keeps pushing the stall limit on re-arms nothing.
   */
  function arm(at: number, now: number): void {
    if (disposed || at >= timerAt || !(at > now)) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    timerAt = at;
    timer = clock.setTimeout(fired, Math.min(Math.max(0, at - now), MAX_DELAY_MS));
  }

  function fired(): void {
    timer = undefined;
    timerAt = Infinity;
    observe(lifecycle.snapshot());
  }

  const unsubscribe = lifecycle.subscribe((snapshot) => observe(snapshot));
  observe(lifecycle.snapshot());
  return {
    today: () => gapsToday(tally, clock.now()),
    secondsTotal: () => gapSecondsTotal(tally, clock.now()),
    [Symbol.dispose]() {
      disposed = true;
      unsubscribe();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
