/**
 * Feeds {@linkcode observeGaps} from the lifecycle: on every snapshot change (a socket
 * opening or failing, data arriving) and once a second on the injected clock (so silence past
 * the stall limit, and the market's opening and closing, are seen without an event).
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
  /** How often to look without an event; default 1000 ms. */
  readonly checkEveryMs?: number;
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

/** Starts watching; dispose it to stop. */
export function watchGaps(options: GapWatchOptions): GapWatch {
  const { lifecycle, clock, holidays } = options;
  const checkEveryMs = options.checkEveryMs ?? 1000;
  let tally: GapTally = emptyGapTally(clock.now());
  // The market phase holds until next_change: the calendar is walked only then.
  let market = { openSince: null as number | null, from: -Infinity, until: -Infinity };
  let timer: TimerId | undefined;

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
  }

  function tick(): void {
    observe(lifecycle.snapshot());
    timer = clock.setTimeout(tick, checkEveryMs);
  }

  const unsubscribe = lifecycle.subscribe((snapshot) => observe(snapshot));
  timer = clock.setTimeout(tick, checkEveryMs);
  return {
    today: () => gapsToday(tally, clock.now()),
    secondsTotal: () => gapSecondsTotal(tally, clock.now()),
    [Symbol.dispose]() {
      unsubscribe();
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
