/**
 * "No ticks for N minutes": a feed that stays Live (heartbeats arrive) but carries no price
 * changes while NSE is open is worth a warning; the same silence at night, on a weekend or
 * in the pre-open buffer is normal. PURE: the instant, the observation and the calendar are
 * passed in; quiet_feed_watch.ts evaluates it on a timer and logs.
 *
 * The quiet time counts from the latest of the last tick, the moment the feed became Live
 * and the moment the market opened, so an overnight gap or a reconnect never counts as
 * silence during trading.
 *
 * @module
 */
import type { FeedSnapshot } from "./store.ts";
import type { Snapshot } from "../lifecycle/machine.ts";
import { type MarketPhaseName, phaseWithStart } from "../market/phase.ts";

/** What the check needs to know about the feed at one instant. */
export interface FeedObservation {
  /** Epoch ms the lifecycle entered Live, or `null` when it is not Live. */
  readonly liveSince: number | null;
  /** Epoch ms of the last tick (not heartbeat) received, or `null` before the first. */
  readonly lastTickAt: number | null;
}

/** The verdict at one instant. */
export type QuietFeed =
  /** The market is not in `open`: silence is expected, never warned about. */
  | { readonly kind: "market_not_open"; readonly phase: MarketPhaseName }
  /** The feed is not Live: /status already says why; nothing to add. */
  | { readonly kind: "not_live" }
  /** Ticks flowed within the threshold (or the quiet time has not reached it yet). */
  | { readonly kind: "flowing"; readonly quietSince: number }
  /** Live during `open`, and no tick for at least the threshold. */
  | { readonly kind: "quiet"; readonly quietSince: number; readonly quietMs: number };

/** Options for {@linkcode assessQuietFeed}. */
export interface QuietFeedOptions {
  /** Trading holidays (ISO dates, IST), as `marketPhase` takes them. */
  readonly holidays: ReadonlySet<string>;
  /** How long without a tick, while open and Live, counts as quiet (ms, > 0). */
  readonly thresholdMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Whether the feed has been quiet too long at `now` (epoch ms).
 *
 * @example
 * ```ts
 * const verdict = assessQuietFeed(Date.now(), { liveSince, lastTickAt }, {
 *   holidays: nseHolidays2026(),
 *   thresholdMs: 5 * 60_000,
 * });
 * if (verdict.kind === "quiet") console.warn(quietFeedWarning(verdict));
 * ```
 *
 * @throws {RangeError} when `thresholdMs` is not a positive finite number
 */
export function assessQuietFeed(
  now: number,
  observation: FeedObservation,
  options: QuietFeedOptions,
): QuietFeed {
  if (!(options.thresholdMs > 0 && Number.isFinite(options.thresholdMs))) {
    throw new RangeError(
      `Failed to assess the feed: threshold ${options.thresholdMs} ms is not positive`,
    );
  }
  const { phase, since: openedAt } = phaseWithStart(now, { holidays: options.holidays });
  if (phase !== "open") return { kind: "market_not_open", phase };
  if (observation.liveSince === null) return { kind: "not_live" };
  const quietSince = Math.max(observation.lastTickAt ?? -Infinity, observation.liveSince, openedAt);
  const quietMs = now - quietSince;
  return quietMs >= options.thresholdMs
    ? { kind: "quiet", quietSince, quietMs }
    : { kind: "flowing", quietSince };
}

/** The one-line warning for a `quiet` verdict (for the log and `/status`), else `null`. */
export function quietFeedWarning(verdict: QuietFeed): string | null {
  if (verdict.kind !== "quiet") return null;
  const minutes = Math.floor(verdict.quietMs / MINUTE_MS);
  return `No ticks for ${minutes} min while the market is open (quiet since ${
    new Date(verdict.quietSince).toISOString()
  }); the socket is Live and heartbeats arrive, so Kite is sending no price changes`;
}

/** Epoch ms of the newest tick in a feed snapshot (heartbeats excluded), or `null`. */
export function lastTickAt(feed: FeedSnapshot): number | null {
  let latest: number | null = null;
  for (const quote of Object.values(feed.instruments)) {
    const at = Date.parse(quote.at);
    if (latest === null || at > latest) latest = at;
  }
  return latest;
}

/** The observation {@linkcode assessQuietFeed} takes, from a lifecycle and a feed snapshot. */
export function feedObservation(snapshot: Snapshot, feed: FeedSnapshot): FeedObservation {
  const { state } = snapshot;
  return { liveSince: state.name === "Live" ? state.since : null, lastTickAt: lastTickAt(feed) };
}
