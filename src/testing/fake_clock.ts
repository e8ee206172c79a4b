/**
 * A clock for tests and scripts that moves only when told, so delayed behaviour is tested
 * by advancing time instead of sleeping.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

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
