/**
 * The market phase for a caller that asks often (every `/status`): a phase holds until its
 * `next_change`, so the calendar is walked only when that passes (or the clock goes back).
 *
 * @module
 */
import { type MarketPhase, marketPhase, type MarketPhaseOptions } from "./phase.ts";

/** Returns the phase at an instant, reusing the last answer while it holds. */
export type MarketPhaseAt = (now: number) => MarketPhase;

/** A cache of {@linkcode marketPhase}, primed with the phase at `start` (epoch ms). */
export function cachedMarketPhase(start: number, options: MarketPhaseOptions): MarketPhaseAt {
  let cached = { at: start, phase: marketPhase(start, options) };
  return function marketPhaseAt(now) {
    if (now < cached.at || now >= cached.phase.next_change) {
      cached = { at: now, phase: marketPhase(now, options) };
    }
    return cached.phase;
  };
}
