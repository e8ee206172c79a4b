/**
 * Runs {@linkcode assessQuietFeed} on the injected clock and logs one warning per quiet
 * episode (and one line when ticks resume after it). It looks again when the verdict can
 * change: at the market's next phase while it is not open, when the quiet time would reach
 * the threshold while ticks flow (ticks push it on: one look per threshold), and every
 * `checkEveryMs` while the feed is not Live or quiet. An episode is identified by the instant
 * its quiet time began, so a check every few seconds never repeats the warning, and a new
 * silence after ticks resumed (or after a reconnect) warns again.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
import { marketPhase } from "../market/phase.ts";
import {
  assessQuietFeed,
  type FeedObservation,
  type QuietFeed,
  quietFeedWarning,
} from "./quiet_feed.ts";

/** Options for {@linkcode watchQuietFeed}. */
export interface QuietFeedWatchOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Trading holidays (ISO dates, IST). */
  readonly holidays: ReadonlySet<string>;
  /** How long without a tick, while open and Live, is worth a warning (ms, > 0). */
  readonly thresholdMs: number;
  /** How often to check while not Live or quiet; default 15 s. */
  readonly checkEveryMs?: number;
}

/** A running check; stop it when the daemon closes. */
export interface QuietFeedWatch extends Disposable {
  /** The verdict now, computed fresh (logs nothing). */
  verdict(): QuietFeed;
  /** The `/status` warning: raised by a check (at most `checkEveryMs` late), cleared at once. */
  warning(): string | null;
  /** Cancels the timer; idempotent. */
  stop(): void;
}

const DEFAULT_CHECK_EVERY_MS = 15_000;
const MINUTE_MS = 60_000;
// setTimeout's longest delay; a later instant is looked at again then.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Starts checking `observe()` every `checkEveryMs` on `options.clock`.
 *
 * @example
 * ```ts
 * const quiet = watchQuietFeed(() => ({ liveSince, lastTickAt }), {
 *   clock, log, holidays, thresholdMs: 5 * 60_000,
 * });
 * // …on shutdown:
 * quiet.stop();
 * ```
 */
export function watchQuietFeed(
  observe: () => FeedObservation,
  options: QuietFeedWatchOptions,
): QuietFeedWatch {
  const { clock, log, holidays, thresholdMs } = options;
  const checkEveryMs = options.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS;
  // The quietSince of the episode already warned about, if one is running.
  let warnedSince: number | null = null;
  // The latest check's verdict: /status reads it, so a request costs no calendar walk.
  let latest: QuietFeed | null = null;
  let timer: TimerId | null = null;
  let stopped = false;

  function verdict(): QuietFeed {
    return assessQuietFeed(clock.now(), observe(), { holidays, thresholdMs });
  }

  /** How long until `verdict` can change without a look. */
  function nextLookIn(now: QuietFeed, at: number): number {
    switch (now.kind) {
      case "market_not_open":
        return marketPhase(at, { holidays }).next_change - at;
      case "flowing":
        return now.quietSince + thresholdMs - at;
      default:
        return checkEveryMs;
    }
  }

  function check(): void {
    timer = null;
    if (stopped) return;
    let delay = checkEveryMs;
    try {
      const at = clock.now();
      const now = assessQuietFeed(at, observe(), { holidays, thresholdMs });
      delay = nextLookIn(now, at);
      latest = now;
      if (now.kind === "quiet" && now.quietSince !== warnedSince) {
        warnedSince = now.quietSince;
        log("warn", quietFeedWarning(now) ?? "");
      } else if (now.kind !== "quiet" && warnedSince !== null) {
        if (now.kind === "flowing") {
          const minutes = Math.round((clock.now() - warnedSince) / MINUTE_MS);
          log("info", `Ticks resumed after about ${minutes} min of quiet`);
        }
        warnedSince = null;
      }
    } catch (error: unknown) {
      // A calendar that names every day for ten years: say so, keep serving.
      log("error", `Failed to check for a quiet feed: ${String(error)}`);
    }
    timer = clock.setTimeout(check, Math.min(Math.max(1, delay), MAX_DELAY_MS));
  }

  function stop(): void {
    stopped = true;
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  }

  timer = clock.setTimeout(check, checkEveryMs);
  return {
    verdict,
    // Cheap unless a warning stands: only then is the verdict computed afresh, so it clears
    // the moment ticks resume.
    warning: () => latest?.kind === "quiet" ? quietFeedWarning(verdict()) : null,
    stop,
    [Symbol.dispose]: stop,
  };
}
