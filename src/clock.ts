/**
 * Time behind an interface, so delayed behaviour is tested by advancing a fake clock
 * instead of sleeping: {@linkcode systemClock} for the daemon, `FakeClock`
 * (`src/testing/fake_clock.ts`) for tests.
 *
 * @module
 */

/**
 * The handle a {@linkcode Clock} returns for a timer, to cancel it: a number from
 * `FakeClock`, whatever the runtime's `setTimeout` returns from the real clock
 * (Deno 2.9 returns a Node-style `Timeout` object, not a number).
 */
export type TimerId = number | ReturnType<typeof setTimeout>;

/** Wall-clock time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): TimerId;
  /** Cancels a timer; an unknown or already fired id is ignored. */
  clearTimeout(id: TimerId): void;
}

/** The real clock: `Date.now` and the global timers. */
export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (id) => clearTimeout(id),
  };
}
