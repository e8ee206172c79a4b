/**
 * The Deno permissions the daemon runs with, as data: `deno.json`'s `start`, `demo` and
 * `compile` tasks must grant exactly these (tests/permissions_test.ts checks), so the
 * binary that `deno compile` bakes and the `deno task` runs cannot drift apart.
 *
 * Least privilege, and why each flag stays unscoped:
 * - `--allow-net`: the listener, Kite's REST and ticker hosts and, in `demo`, the
 *   simulator. Hosts and ports come from `.env` and `--listen` at run time, so a task
 *   written before the configuration is read cannot list them.
 * - `--allow-read`, `--allow-write`: the `.env` file's directory only (the token is written
 *   atomically through a temp file beside it, and that directory is watched). Deno scopes
 *   these to paths fixed on the command line, not to a path the program learns from
 *   `--env-file`, so the task cannot name it; the service units narrow it instead
 *   (systemd's `ProtectSystem=strict` + `ReadWritePaths=` the `.env` directory).
 * - `--allow-env`: configuration comes from the environment (`Deno.env.toObject()`), and
 *   npm packages read their own variables; an allow-list would break on their names.
 *
 * Not granted: `--allow-run` (no subprocesses), `--allow-sys` (nothing asks for host
 * information), `--allow-ffi`, and never `-A`.
 *
 * @module
 */

/** The daemon's permission flags, in the order the tasks spell them. */
export const RUN_PERMISSIONS: readonly string[] = Object.freeze([
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
]);
