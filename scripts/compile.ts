/**
 * Builds kitekeeper binaries with `deno compile`, granting exactly the daemon's permission
 * list (src/permissions.ts), for Linux and macOS on x86-64 and ARM64.
 *
 * ```sh
 * deno task compile           # the host's binary: dist/kitekeeper
 * deno task compile:all       # every target: dist/kitekeeper-<target>
 * deno run --allow-read --allow-write --allow-env --allow-run scripts/compile.ts \
 *   [--all | --target TRIPLE …] [--out-dir DIR]
 * ```
 *
 * `deno compile` writes the program onto `denort`, Deno's runtime stub for the target. It
 * downloads `denort-<target>.zip` from Deno's servers on first use and caches it under
 * `$DENO_DIR/dl/release/v<version>/`. Without that network:
 * - `DENORT_BIN=/path/to/denort`: the host's stub. Deno reads this variable itself, but
 *   applies it to whatever `--target` says, so this script passes it on only for the host.
 * - `DENORT_BIN_<TARGET>` (e.g. `DENORT_BIN_AARCH64_APPLE_DARWIN`): another target's stub,
 *   passed to that target's `deno compile` as `DENORT_BIN`.
 * - or copy `denort-<target>.zip` into the cache directory above.
 * The stub must be the same version as the `deno` that compiles.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { RUN_PERMISSIONS } from "../src/ops/permissions.ts";
import { v8FlagsArgument } from "../src/ops/runtime_settings.ts";

/** The target triples kitekeeper ships binaries for. */
export const TARGETS = Object.freeze(
  [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
  ] as const,
);

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/** Where `deno compile` will take denort from. */
export type DenortSource =
  /** A stub named by a variable: passed to deno compile as `DENORT_BIN`. */
  | { readonly kind: "variable"; readonly variable: string; readonly path: string }
  /** None named: Deno's cache, else a download. */
  | { readonly kind: "deno" };

/** One `deno compile` run: arguments (run in the repository root) and its environment. */
export interface CompilePlan {
  /** The triple built for. */
  readonly target: string;
  /** `deno`'s arguments, e.g. `["compile", "--allow-net", …, "main.ts"]`. */
  readonly args: readonly string[];
  /** The binary's path, as given to `--output`. */
  readonly output: string;
  /** The child's whole environment (run it with `clearEnv`): `DENORT_BIN` set or removed. */
  readonly env: Readonly<Record<string, string>>;
  readonly denort: DenortSource;
}

/** Options for {@linkcode compilePlan}. */
export interface CompilePlanOptions {
  /** The environment the build runs in (e.g. `Deno.env.toObject()`). */
  readonly env: Readonly<Record<string, string>>;
  /** The host's triple (`Deno.build.target`). */
  readonly host: string;
  /** The directory binaries go to; default `dist`. */
  readonly outDir?: string;
}

/** Options for {@linkcode compileBinary}. */
export interface CompileBinaryOptions {
  /** The repository root (where `main.ts` and `deno.json` are). */
  readonly root: string;
  /** The `deno` executable; default `Deno.execPath()`. */
  readonly deno?: string;
  /** Cancels the build (the child is killed). */
  readonly signal?: AbortSignal;
}

/** Options for {@linkcode denortCachePath}. */
export interface DenortCacheOptions {
  /** Deno's cache directory (`deno info --json` → `denoDir`). */
  readonly denoDir: string;
  /** Deno's version; default `Deno.version.deno`. */
  readonly version?: string;
}

/** The variable that names `target`'s stub, e.g. `DENORT_BIN_AARCH64_APPLE_DARWIN`. */
export function denortVariable(target: string): string {
  return `DENORT_BIN_${target.toUpperCase().replaceAll("-", "_")}`;
}

/** Where `deno compile` caches (and looks for) `target`'s denort archive. */
export function denortCachePath(target: string, options: DenortCacheOptions): string {
  const version = options.version ?? Deno.version.deno;
  return join(options.denoDir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/**
 * The `deno compile` run for `target` (`"host"`: the machine's own, without `--target`,
 * written to `<outDir>/kitekeeper` exactly as `deno task compile` does; otherwise
 * `<outDir>/kitekeeper-<target>`).
 *
 * @example
 * ```ts
 * const plan = compilePlan("aarch64-apple-darwin", { env: Deno.env.toObject(), host: Deno.build.target });
 * // plan.args: ["compile", "--allow-net", …, "--target", "aarch64-apple-darwin", "--output", …]
 * ```
 */
export function compilePlan(target: Target | "host", options: CompilePlanOptions): CompilePlan {
  const triple = target === "host" ? options.host : target;
  const outDir = options.outDir ?? "dist";
  const output = target === "host" ? `${outDir}/kitekeeper` : `${outDir}/kitekeeper-${target}`;
  const own = denortVariable(triple);
  const { DENORT_BIN: hostStub, ...env } = options.env;
  const ownStub = env[own] !== undefined && env[own] !== "" ? env[own] : undefined;
  const stub = ownStub ?? (triple === options.host && hostStub !== "" ? hostStub : undefined);
  const denort: DenortSource = stub === undefined
    ? { kind: "deno" }
    : { kind: "variable", variable: ownStub === undefined ? "DENORT_BIN" : own, path: stub };
  return {
    target: triple,
    args: [
      "compile",
      v8FlagsArgument(),
      ...RUN_PERMISSIONS,
      ...(target === "host" ? [] : ["--target", target]),
      "--output",
      output,
      "main.ts",
    ],
    output,
    env: stub === undefined ? env : { ...env, DENORT_BIN: stub },
    denort,
  };
}

/** Adds what to do about a failed denort download to deno compile's own message. */
function explain(stderr: string, plan: CompilePlan): string {
  // The Rust backtrace deno appends says nothing to an operator.
  const detail = stderr.replace(/\n*Stack backtrace:[\s\S]*$/, "").trim();
  if (!/denort|dl\.deno\.land|base binary/i.test(detail)) return detail;
  const version = Deno.version.deno;
  const where = plan.denort.kind === "variable"
    ? `${plan.denort.variable}=${plan.denort.path}`
    : `no ${plan.target === Deno.build.target ? "DENORT_BIN or " : ""}${
      denortVariable(plan.target)
    } set, and nothing in Deno's cache`;
  return `${detail}\n\ndeno compile needs denort ${version} for ${plan.target} (${where}). ` +
    `Offline, set ${
      plan.target === Deno.build.target ? "DENORT_BIN" : denortVariable(plan.target)
    } to a denort ${version} binary, or copy denort-${plan.target}.zip into ` +
    `$DENO_DIR/dl/release/v${version}/ (see scripts/compile.ts)`;
}

/**
 * Runs one plan. For the host's own target it then runs the binary with `--version`, so a
 * stub that is not denort (a full `deno` runs its REPL instead of the program) is caught.
 *
 * @throws {Error} with deno compile's message (plus what to do when denort is missing), or
 *   when the host binary does not answer `--version` as kitekeeper
 */
export async function compileBinary(
  plan: CompilePlan,
  options: CompileBinaryOptions,
): Promise<void> {
  const result = await new Deno.Command(options.deno ?? Deno.execPath(), {
    args: [...plan.args],
    cwd: options.root,
    env: { ...plan.env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).output();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    throw new Error(`Failed to compile for ${plan.target}: ${explain(stderr, plan)}`);
  }
  if (plan.target !== Deno.build.target) return;
  const binary = resolve(options.root, plan.output);
  const run = await new Deno.Command(binary, {
    args: ["--version"],
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }).output();
  const said = new TextDecoder().decode(run.stdout).trim();
  if (!run.success || !/^kitekeeper \S+$/.test(said)) {
    // Leave no binary that someone could install by mistake.
    await Deno.remove(binary).catch(() => {});
    const stub = plan.denort.kind === "variable"
      ? ` (${plan.denort.variable} points at a ` +
        `full deno or another version, not denort ${Deno.version.deno}?)`
      : "";
    throw new Error(
      `Failed to verify ${binary}: --version printed ${JSON.stringify(said.slice(0, 80))}${stub}`,
    );
  }
}

async function main(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      all: { type: "boolean" },
      target: { type: "string", multiple: true },
      "out-dir": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const requested = values.all ? [...TARGETS] : values.target ?? [];
  const unknown = requested.filter((target) => !(TARGETS as readonly string[]).includes(target));
  if (unknown.length > 0) {
    console.error(`Unknown target ${unknown.join(", ")}: expected one of ${TARGETS.join(", ")}`);
    return 2;
  }
  const targets: readonly (Target | "host")[] = requested.length === 0
    ? ["host"]
    : requested as Target[];
  const root = new URL("..", import.meta.url).pathname;
  const outDir = values["out-dir"] ?? "dist";
  await Deno.mkdir(join(root, outDir), { recursive: true });
  let failed = 0;
  for (const target of targets) {
    const plan = compilePlan(target, { env: Deno.env.toObject(), host: Deno.build.target, outDir });
    const via = plan.denort.kind === "variable"
      ? `denort from ${plan.denort.variable}`
      : "denort from Deno's cache or servers";
    console.log(`Compiling ${plan.output} for ${plan.target} (${via})`);
    try {
      await compileBinary(plan, { root });
    } catch (error: unknown) {
      failed++;
      console.error(error instanceof Error ? error.message : String(error));
    }
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
