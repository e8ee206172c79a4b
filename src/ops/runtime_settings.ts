/**
 * The runtime settings kitekeeper ships, as data: what holds the daemon's memory flat over
 * days of rotations. `deno task start`, `demo` and `soak`, the compiled binary
 * (`scripts/compile.ts` and `deno task compile`), the systemd unit and the launchd plist all
 * carry exactly these (tests/packaging/runtime_settings_test.ts checks), and the benchmarks
 * run the daemon with them.
 *
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates its own malloc arena, up to
 *   8 per core, and keeps their freed pages; Deno's runtime threads then leave RSS climbing
 *   after bursts. Two arenas keep it near flat.
 *   An environment variable, so the binary cannot carry it: the units set it. (macOS's
 *   allocator ignores it; the plist sets it anyway so every install says the same.)
 * - `--max-semi-space-size=2` (MB): V8 grows its young generation up to 16 MB per semi-space
 *   under allocation bursts (a rotation, a fan-out round) and rarely gives it back; a small
 *   young generation costs more frequent, cheaper scavenges. A V8 flag: `deno compile`
 *   bakes it into the binary.
 *
 * Measured by the soak (2000 rotations and drops, RSS from the warm-up's end): +54 MB with
 * neither, +10.8 MB with both; see docs/performance.md for the 10 000-rotation figure.
 *
 * @module
 */

/** Environment variables the daemon's process starts with. */
export const RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_ARENA_MAX: "2",
});

/** V8 flags the daemon runs with. */
export const V8_FLAGS: readonly string[] = Object.freeze(["--max-semi-space-size=2"]);

/**
 * The `--v8-flags=` argument for `deno run` or `deno compile`: {@linkcode V8_FLAGS}, then
 * `extra` (the soak adds `--expose-gc`).
 *
 * @example
 * ```ts
 * v8FlagsArgument(); // "--v8-flags=--max-semi-space-size=2"
 * ```
 */
export function v8FlagsArgument(extra: readonly string[] = []): string {
  return `--v8-flags=${[...extra, ...V8_FLAGS].join(",")}`;
}
