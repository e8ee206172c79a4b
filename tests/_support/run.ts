/**
 * Child processes for tests: an external program run to its end, programs found on PATH (so
 * a test can skip, saying why, where a tool is missing), and `kitekeeper run` as a child.
 *
 * @module
 */
import { join } from "node:path";
import { RUN_PERMISSIONS } from "../../src/ops/permissions.ts";
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "../../src/simulator/simulator.ts";
import { KITE } from "../../src/testing/daemon_harness.ts";

/** `main.ts`, as `deno run` takes it. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** How a program ended: its exit code and its decoded output. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command` with `args` and no stdin, and resolves once it exits. `options.env` adds to
 * the inherited environment.
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string> } = {},
): Promise<Run> {
  const output = await new Deno.Command(command, {
    args: [...args],
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The full path of the file `name` in a PATH directory, or `undefined` when there is none. */
export async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      if ((await Deno.stat(join(dir, name))).isFile) return join(dir, name);
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

// What a child `deno` needs of this test's environment: above all its cache (`DENO_DIR`), so a
// child with an otherwise cleared environment neither hangs on a download nor fills a new cache.
const DENO_ENV_KEYS = [
  "DENO_DIR",
  "DENO_CERT",
  "DENO_AUTH_TOKENS",
  "DENO_NO_UPDATE_CHECK",
  "NPM_CONFIG_REGISTRY",
  "HOME",
  "PATH",
  "TMPDIR",
  "XDG_CACHE_HOME",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
] as const;

/** A cleared child environment for `deno`: `NO_COLOR=1`, what Deno needs, then `extra`. */
export function denoChildEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1" };
  for (const key of DENO_ENV_KEYS) {
    const value = Deno.env.get(key);
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * `kitekeeper run --env-file <envFile> --listen <listen>` under `deno run` with the daemon's
 * permissions, in an environment of {@linkcode denoChildEnv} and `options.env` only, output piped.
 */
export function kitekeeperRun(
  envFile: string,
  options: { listen: string; env?: Record<string, string> },
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...RUN_PERMISSIONS,
      MAIN,
      "run",
      "--env-file",
      envFile,
      "--listen",
      options.listen,
    ],
    env: denoChildEnv(options.env),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * A simulator with the test credentials whose login redirects to a kitekeeper child that
 * will listen on `port`, with `options` over them.
 */
export function startSimulatorFor(
  port: number,
  options: Partial<SimulatorOptions> = {},
): Promise<Simulator> {
  return startSimulator({
    ...KITE,
    redirectUrl: `http://127.0.0.1:${port}/api/auth/callback`,
    ...options,
  });
}
