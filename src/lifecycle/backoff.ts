/**
 * Exponential backoff with full jitter (the AWS Architecture Blog's "Exponential Backoff
 * And Jitter"): the delay is uniform in [0, min(cap, base · 2^(attempt−1))). Full jitter
 * spreads reconnecting clients best; the random draw is passed in, so it stays pure.
 *
 * @module
 */

/** Options of {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** A uniform random number in [0, 1), drawn by the caller. */
  readonly random: number;
  /** The ceiling of the first delay, in milliseconds. Defaults to 250. */
  readonly baseMs?: number;
  /** The largest ceiling any delay may have, in milliseconds. Defaults to 30 000. */
  readonly capMs?: number;
}

/** Default {@linkcode BackoffOptions.baseMs}. */
export const DEFAULT_BACKOFF_BASE_MS = 250;
/** Default {@linkcode BackoffOptions.capMs}. */
export const DEFAULT_BACKOFF_CAP_MS = 30_000;

/**
 * The delay in whole milliseconds before retry number `attempt` (1 for the first retry).
 *
 * @example
 * ```ts
 * backoffDelay(1, { random: 0.5 }); // 125: half of the 250 ms base
 * backoffDelay(20, { random: 0.5 }); // 15000: half of the 30 s cap
 * ```
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { random, baseMs = DEFAULT_BACKOFF_BASE_MS, capMs = DEFAULT_BACKOFF_CAP_MS } = options;
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Failed to compute a backoff: attempt ${attempt} is not a positive integer`,
    );
  }
  if (!(random >= 0 && random < 1)) {
    throw new RangeError(`Failed to compute a backoff: random ${random} is not in [0, 1)`);
  }
  // Capping the exponent keeps 2 ** n finite however long the outage lasts.
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 52));
  return Math.floor(random * ceiling);
}
