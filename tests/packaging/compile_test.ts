import assert from "node:assert/strict";
import { startSimulatorFor } from "../_support/run.ts";
import { dirname } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { compileBinary, compilePlan, denortCachePath, TARGETS } from "../../scripts/compile.ts";
import { RUN_PERMISSIONS } from "../../src/ops/permissions.ts";
import { v8FlagsArgument } from "../../src/ops/runtime_settings.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { envText } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { LineReader } from "../_support/lines.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SCRIPT = new URL("../../scripts/compile.ts", import.meta.url).pathname;
const HOST = Deno.build.target;
const VERSION = Deno.version.deno;
const PROBE_TIMEOUT_MS = 30_000;

type Availability = { readonly ok: true; readonly via: string } | {
  readonly ok: false;
  readonly reason: string;
};

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function denoDir(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { denoDir?: unknown };
  assert.equal(typeof info.denoDir, "string", "deno info --json names denoDir");
  return info.denoDir as string;
}

/** The one line of deno compile's failure that says what went wrong. */
function gist(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const line = lines.find((text) => /error sending request|Could not find denort/.test(text)) ??
    lines.find((text) => text.startsWith("error:")) ?? lines.at(-1) ?? "no output";
  return line.replace(/^\d+: /, "").slice(0, 240);
}

/**
 * Whether `deno compile` can get the host's denort: a stub named by DENORT_BIN, Deno's cache,
 * or, failing both, one real try at compiling a one-line program (a download) with a timeout.
 */
async function denortAvailability(): Promise<Availability> {
  const plan = compilePlan("host", { env: Deno.env.toObject(), host: HOST });
  if (plan.denort.kind === "variable") {
    const { variable, path } = plan.denort;
    return await exists(path)
      ? { ok: true, via: `${variable}=${path}` }
      : { ok: false, reason: `${variable}=${path} does not exist` };
  }
  const cache = denortCachePath(HOST, { denoDir: await denoDir() });
  if (await exists(cache)) return { ok: true, via: `Deno's cache (${cache})` };
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_denort_probe_" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, 'console.log("probe");\n');
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--no-config", "--output", `${dir}/probe`, `${dir}/probe.ts`],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    }).output();
    if (output.success) return { ok: true, via: "a download from Deno's servers" };
    return {
      ok: false,
      reason: `deno compile needs denort: set DENORT_BIN to a denort ${VERSION} binary ` +
        `(${HOST}) or put denort-${HOST}.zip in ${dirname(cache)}; Deno's download servers ` +
        `are unreachable here (deno compile said: ${
          gist(new TextDecoder().decode(output.stderr))
        })`,
    };
  } catch (error: unknown) {
    return {
      ok: false,
      reason: `deno compile needs denort: set DENORT_BIN to a denort ${VERSION} binary; ` +
        `a trial compile did not finish within ${PROBE_TIMEOUT_MS / 1000} s (${String(error)})`,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const availability = await denortAvailability();
if (availability.ok) {
  console.log(`compile_test: building a real binary with denort from ${availability.via}`);
} else {
  console.log(`compile_test: skipping the compiled-binary smoke run: ${availability.reason}`);
}

Deno.test('compilePlan("host") is exactly `deno task compile`', () => {
  const task = (denoJson.tasks as Record<string, string>)["compile"];
  assert.ok(task !== undefined, "deno.json has a compile task");
  const plan = compilePlan("host", { env: {}, host: HOST });
  assert.deepEqual(["deno", ...plan.args], task.trim().split(/\s+/));
  assert.equal(plan.output, "dist/kitekeeper");
});

Deno.test("compilePlan() builds every target with the daemon's permissions, named for the target", () => {
  assert.deepEqual([...TARGETS].sort(), [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-unknown-linux-gnu",
  ]);
  for (const target of TARGETS) {
    const plan = compilePlan(target, { env: {}, host: HOST, outDir: "out" });
    assert.deepEqual(plan.args, [
      "compile",
      v8FlagsArgument(),
      ...RUN_PERMISSIONS,
      "--target",
      target,
      "--output",
      `out/kitekeeper-${target}`,
      "main.ts",
    ]);
    assert.equal(plan.target, target);
  }
});

Deno.test("compilePlan() gives DENORT_BIN to the host's target only, DENORT_BIN_<TARGET> to its own", () => {
  const env = {
    PATH: "/usr/bin",
    DENORT_BIN: "/stubs/host-denort",
    DENORT_BIN_AARCH64_APPLE_DARWIN: "/stubs/mac-arm-denort",
  };
  const host = "x86_64-unknown-linux-gnu";

  const own = compilePlan("x86_64-unknown-linux-gnu", { env, host });
  assert.equal(own.env["DENORT_BIN"], "/stubs/host-denort");
  assert.deepEqual(own.denort, { kind: "variable", variable: "DENORT_BIN", path: env.DENORT_BIN });

  // Deno would put the host's stub under an ARM binary: the variable is withheld.
  const foreign = compilePlan("aarch64-unknown-linux-gnu", { env, host });
  assert.equal(foreign.env["DENORT_BIN"], undefined);
  assert.deepEqual(foreign.denort, { kind: "deno" });

  const mac = compilePlan("aarch64-apple-darwin", { env, host });
  assert.equal(mac.env["DENORT_BIN"], "/stubs/mac-arm-denort");
  assert.deepEqual(mac.denort, {
    kind: "variable",
    variable: "DENORT_BIN_AARCH64_APPLE_DARWIN",
    path: "/stubs/mac-arm-denort",
  });

  for (const plan of [own, foreign, mac]) assert.equal(plan.env["PATH"], "/usr/bin");
  assert.deepEqual(compilePlan("host", { env: { DENORT_BIN: "" }, host }).denort, {
    kind: "deno",
  });
});

Deno.test("denortCachePath() is where deno compile caches the stub it downloads", () => {
  assert.equal(
    denortCachePath("aarch64-apple-darwin", { denoDir: "/cache/deno", version: "2.9.6" }),
    "/cache/deno/dl/release/v2.9.6/denort-aarch64-apple-darwin.zip",
  );
});

Deno.test("scripts/compile.ts refuses a target it does not ship", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", SCRIPT, "--target", "x86_64-pc-windows-msvc"],
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 2);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /^Unknown target x86_64-pc-windows-msvc: expected one of x86_64-unknown-linux-gnu, /,
  );
});

Deno.test("compileBinary() rejects and deletes a binary built on a full deno instead of denort", async () => {
  // The deno running this test is a full CLI: as a stub it runs itself, not kitekeeper.
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_compile_" });
  try {
    const plan = compilePlan("host", {
      env: { ...Deno.env.toObject(), DENORT_BIN: Deno.execPath() },
      host: HOST,
      outDir: dir,
    });
    await assert.rejects(
      compileBinary(plan, { root: ROOT }),
      /^Error: Failed to verify .*--version printed "deno .*DENORT_BIN points at a full deno/s,
    );
    assert.equal(await exists(plan.output), false, "the wrong binary was removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the compiled binary answers --version and keeps a simulator's feed Live",
  ignore: !availability.ok,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_compile_" });
    try {
      const plan = compilePlan("host", { env: Deno.env.toObject(), host: HOST, outDir: dir });
      await compileBinary(plan, { root: ROOT });
      const binary = plan.output;
      const childEnv = { NO_COLOR: "1", HOME: dir, DENO_DIR: `${dir}/deno_dir` };

      const version = await new Deno.Command(binary, {
        args: ["--version"],
        env: childEnv,
        clearEnv: true,
      }).output();
      assert.equal(
        new TextDecoder().decode(version.stdout).trim(),
        `kitekeeper ${denoJson.version}`,
      );

      const port = freePort();
      await using sim = await startSimulatorFor(port, {
        heartbeatMs: 50,
      });
      const envFile = `${dir}/.env`;
      const token = sim.issueAccessToken();
      await Deno.writeTextFile(envFile, `${envText(sim.url)}KITE_ACCESS_TOKEN=${token}\r\n`, {
        mode: 0o600,
      });
      // Only the baked-in permissions: a missing one would fail here, never prompt.
      const child = new Deno.Command(binary, {
        args: ["run", "--env-file", envFile, "--listen", `127.0.0.1:${port}`],
        env: childEnv,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = new LineReader(child.stdout);
      const errText = Array.fromAsync(child.stderr.pipeThrough(new TextDecoderStream()))
        .then((chunks) => chunks.join(""));
      // If the binary dies, its stderr says why; show it with the failure.
      const until = (pattern: RegExp) =>
        out.until(pattern).catch(async (error: unknown) => {
          throw new Error(`${String(error)}\nstderr:\n${await errText}`);
        });
      await until(/^kitekeeper listening on http:\/\/127\.0\.0\.1:\d+$/);
      await until(/→ Live/);
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      const body = await response.json() as StatusBody;
      assert.equal(response.status, 200);
      assert.equal(body.state, "Live");
      assert.equal(body.version, denoJson.version);

      child.kill("SIGTERM");
      const status = await child.status;
      const stdout = await out.rest();
      const stderr = await errText;
      assert.equal(status.code, 0, stderr);
      assert.ok(!`${stdout}${stderr}`.includes(token), "the token never reaches the output");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
