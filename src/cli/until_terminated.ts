/**
 * How `run` and `demo` wait: until SIGINT or SIGTERM, with SIGHUP meaning "re-read `.env`".
 *
 * @module
 */

/**
 * Waits for SIGINT or SIGTERM, calling `onHangup` on every SIGHUP meanwhile. A repeat of either
 * signal after the first is ignored, for as long as the process lives (`main.ts` ends it with
 * `Deno.exit`): `deno task` passes the signal it gets on to its child, so one
 * `kill -TERM -- -PGID` (what README says stops an `npx`-started demo, and what systemd sends a
 * unit's control group) reaches the daemon twice, and with its listener gone the second one
 * killed it mid-shutdown (demo: its directory left in 1 of 3 runs). The shutdown that follows
 * the first is bounded by its own grace.
 */
export function untilTerminated(onHangup: () => void): Promise<Deno.Signal> {
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  Deno.addSignalListener("SIGHUP", onHangup);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, function terminated() {
      Deno.removeSignalListener("SIGHUP", onHangup);
      resolve(signal); // Only the first one counts.
    });
  }
  return promise;
}
