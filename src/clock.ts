/**
 * Time behind an interface, so delayed behaviour is tested by advancing a fake clock
 * instead of sleeping: {@linkcode systemClock} for the daemon, `FakeClock`
 * (`src/testing/fake_clock.ts`) for tests.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/**
 * The handle a {@linkcode Clock} returns for a timer, to cancel it: a number from
 * `FakeClock`, whatever the runtime's `setTimeout` (or, for a timer due now, `setImmediate`)
 * returns from the real clock (Deno 2.9 returns a Node-style `Timeout` object, not a number).
 */
export type TimerId = number | ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate>;

/** Wall-clock time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now (`0`: on the event loop's next turn). */
  setTimeout(callback: () => void, ms: number): TimerId;
  /** Cancels a timer; an unknown or already fired id is ignored. */
  clearTimeout(id: TimerId): void;
}

/**
 * The real clock: `Date.now` and the global timers. A timer due now runs on the event loop's
 * next turn (`setImmediate`, ~0.1 ms), after the I/O already waiting: Deno 2.9's
 * `setTimeout(fn, 0)` waits out its timer granularity, ~2 ms, on paths where milliseconds
 * count (a `.env` read after its first event, a flush of ticks after a quiet spell).
 */
export function systemClock(): Clock {
  // Which handles are immediates: they are cancelled with clearImmediate.
  const immediates = new WeakSet<object>();
  return {
    now: () => Date.now(),
    setTimeout(callback, ms) {
      if (!(ms > 0)) {
        const immediate = setImmediate(callback);
        immediates.add(immediate);
        return immediate;
      }
      return setTimeout(callback, ms);
    },
    clearTimeout(id) {
      if (typeof id === "object" && immediates.has(id)) {
        clearImmediate(id as ReturnType<typeof setImmediate>);
      } else {
        clearTimeout(id as ReturnType<typeof setTimeout>);
      }
    },
  };
}
