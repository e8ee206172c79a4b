import assert from "node:assert/strict";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { envText, KITE } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { LineReader } from "../_support/lines.ts";
import { denoChildEnv, MAIN, startSimulatorFor } from "../_support/run.ts";

const FLAGS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

function spawnRun(envFile: string, listen: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, MAIN, "run", "--env-file", envFile, "--listen", listen],
    env: denoChildEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("run serves, takes a new token while running (SIGHUP or watcher), and exits 0 on SIGTERM", async () => {
  const port = freePort();
  await using sim = await startSimulatorFor(port, {
    heartbeatMs: 50,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_run_" });
  const envFile = `${dir}/.env`;
  await Deno.writeTextFile(envFile, envText(sim.url), { mode: 0o600 });

  const child = spawnRun(envFile, `127.0.0.1:${port}`);
  const out = new LineReader(child.stdout);
  const err = child.stderr.pipeThrough(new TextDecoderStream());
  const errText = Array.fromAsync(err).then((chunks) => chunks.join(""));
  const [, url] = await out.until(/^kitekeeper listening on (http:\/\/127\.0\.0\.1:\d+)$/);
  assert.equal(url, `http://127.0.0.1:${port}`);

  const expired = await fetch(`${url}/status`);
  assert.equal(expired.status, 503);
  assert.equal((await expired.json() as StatusBody).pid, child.pid);

  // A token written while the watcher may be looking elsewhere: SIGHUP forces the re-read.
  const token = sim.issueAccessToken();
  await Deno.writeTextFile(envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
  child.kill("SIGHUP");
  await out.until(/Reconnecting → Live in \d+ ms/);
  const live = await fetch(`${url}/status`);
  assert.equal(live.status, 200);
  await live.body?.cancel();

  const started = performance.now();
  child.kill("SIGTERM");
  const status = await child.status;
  const tookMs = performance.now() - started;
  const stdout = await out.rest();
  const stderr = await errText;
  assert.equal(status.code, 0, stderr);
  console.log(`run exited ${status.code} ${tookMs.toFixed(0)} ms after SIGTERM`);
  assert.ok(!`${stdout}${stderr}`.includes(token), "the token never reaches the output");
  assert.ok(!`${stdout}${stderr}`.includes(KITE.apiSecret));
  assert.equal(sim.stats().sockets_open, 0, "the daemon closed its socket");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run without an API key exits 2 with one line naming the variable and the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_run_" });
  const envFile = `${dir}/.env`;
  await Deno.writeTextFile(envFile, "KITE_API_SECRET=s\n");
  const output = await new Deno.Command(Deno.execPath(), {
    // --quiet: Deno's own diagnostics (a "Download …" line on a cold cache) are not ours.
    args: [
      "run",
      "--quiet",
      ...FLAGS,
      MAIN,
      "run",
      "--env-file",
      envFile,
      "--listen",
      "127.0.0.1:0",
    ],
    env: denoChildEnv(),
    clearEnv: true,
  }).output();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  assert.equal(output.code, 2);
  assert.equal(stderr.split("\n").length, 1, stderr);
  assert.match(stderr, /KITE_API_KEY/);
  assert.ok(stderr.includes(envFile));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run with an unknown flag exits 2 with the usage line", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, MAIN, "run", "--frobnicate"],
    env: denoChildEnv(),
    clearEnv: true,
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /^Usage: kitekeeper/m);
});

Deno.test("a subcommand's --help prints the help and exits 0 without starting anything", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, MAIN, "run", "--help"],
    env: denoChildEnv(),
    clearEnv: true,
  }).output();
  assert.equal(output.code, 0);
  const stdout = new TextDecoder().decode(output.stdout);
  assert.match(stdout, /^Usage: kitekeeper/);
  assert.doesNotMatch(stdout, /listening/);
});
