/**
 * Time behind an interface, so delayed behaviour is tested by advancing a fake clock
 * instead of sleeping: {@linkcode systemClock} for the daemon, {@linkcode FakeClock} for tests.
 *
 * @module
 */

/**
 * The handle a {@linkcode Clock} returns for a timer, to cancel it: a number from
 * {@linkcode FakeClock}, whatever the runtime's `setTimeout` returns from the real clock
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

interface FakeTimer {
  readonly id: TimerId;
  readonly due: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told: {@linkcode FakeClock.tick} advances time and fires the
 * timers that fall due, earliest first (ties in the order they were set), each seeing
 * `now()` equal to its due time. Timers set by a callback fire in the same tick if they
 * fall due within it.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(1_000);
 * clock.setTimeout(() => console.log(clock.now()), 500);
 * clock.tick(500); // logs 1500
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: FakeTimer[] = [];

  /** Starts the clock at `start` milliseconds since the epoch. */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The fake current time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + max(0, ms)`. */
  setTimeout(callback: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.push({ id, due: this.#now + Math.max(0, ms), callback });
    return id;
  }

  /** Cancels the timer `id`, if it is still pending. */
  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== id);
  }

  /** How many timers are waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  /** The due time of the earliest pending timer, or `undefined` when none is pending. */
  get nextDue(): number | undefined {
    return this.#earliest()?.due;
  }

  /** Advances time by `ms` (≥ 0), firing every timer that falls due on the way. */
  tick(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Failed to tick the clock: ${ms} is not ≥ 0`);
    const target = this.#now + ms;
    for (let timer = this.#earliest(); timer && timer.due <= target; timer = this.#earliest()) {
      this.#timers = this.#timers.filter((other) => other !== timer);
      this.#now = timer.due;
      timer.callback();
    }
    this.#now = target;
  }

  /** Advances time to the earliest pending timer and fires it (and any due with it). */
  next(): boolean {
    const due = this.nextDue;
    if (due === undefined) return false;
    this.tick(due - this.#now);
    return true;
  }

  #earliest(): FakeTimer | undefined {
    let earliest: FakeTimer | undefined;
    // Ids grow, so the first of equal due times in insertion order is the earliest set.
    for (const timer of this.#timers) {
      if (!earliest || timer.due < earliest.due) earliest = timer;
    }
    return earliest;
  }
}
