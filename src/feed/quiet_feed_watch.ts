/**
 * Runs {@linkcode assessQuietFeed} on the injected clock and logs one warning per quiet
 * episode (and one line when ticks resume after it). An episode is identified by the instant
 * its quiet time began, so a check every few seconds never repeats the warning, and a new
 * silence after ticks resumed (or after a reconnect) warns again.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
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
  /** How often to check; default 15 s (a warning is logged at most this late). */
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

  function check(): void {
    timer = null;
    if (stopped) return;
    try {
      const now = verdict();
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
    timer = clock.setTimeout(check, checkEveryMs);
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
