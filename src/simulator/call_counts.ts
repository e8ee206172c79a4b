/**
 * How many times each REST route was called (`"GET /user/profile"` → n), failures included:
 * tests read it from `/_sim/stats` to check, e.g., that a dead token cost one probe.
 *
 * @module
 */

/** Counts by name. */
export class CallCounts {
  #counts = new Map<string, number>();

  /** Counts one call of `name`. */
  add(name: string): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
  }

  /** Every count so far, by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}
