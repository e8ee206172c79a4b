/**
 * How `run` and `demo` wait: until SIGINT or SIGTERM, with SIGHUP meaning "re-read `.env`".
 *
 * @module
 */

/** Waits for SIGINT or SIGTERM, calling `onHangup` on every SIGHUP meanwhile. */
export function untilTerminated(onHangup: () => void): Promise<Deno.Signal> {
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  const handlers = new Map<Deno.Signal, () => void>([["SIGHUP", onHangup]]);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    handlers.set(signal, function terminated() {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
      resolve(signal);
    });
  }
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  return promise;
}
