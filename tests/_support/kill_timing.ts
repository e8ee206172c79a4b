/**
 * What the SIGKILL crash tests share: a seeded random source (a failure names the seed that
 * replays it), a sub-millisecond busy wait to land a kill at a random moment, and the
 * unbuffered line a writer child announces its progress with.
 *
 * @module
 */

/** A small seeded generator (mulberry32), uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Spins for `us` microseconds: timers cannot wait less than a millisecond. */
export function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // Busy: the point is to land the kill at a random moment inside a write.
  }
}

const encoder = new TextEncoder();

/** Writes `line` to stdout at once: unbuffered, so a kill loses nothing announced. */
export function say(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}
