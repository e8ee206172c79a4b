/**
 * The fault matrix, `.env` path side: what the path itself can turn into while the daemon
 * runs (a named pipe, a device, a runaway file, a deploy's swapped `current` symlink, a hard
 * link), and what a login's write meets (a renamed token key, bytes that are not UTF-8, a
 * file that cannot be written). Real files, the real watcher, the simulator, a real daemon.
 *
 * @module
 */
import assert from "node:assert/strict";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { envText, KITE, startHarness } from "../../src/testing/daemon_harness.ts";
import { parseEnv } from "../../src/token/env_file.ts";
import {
  assertServes,
  type FaultHarness,
  liveOn,
  reach,
  renameSave,
  report,
  since,
  startFaultHarness,
  ticksResume,
} from "../_support/fault_fixture.ts";

async function startLive(options: Parameters<typeof startFaultHarness>[0] = {}) {
  const h = await startFaultHarness(options);
  await reach(h.daemon, "Live on the start token", liveOn(h.startToken));
  await ticksResume(h.daemon, Date.now());
  return h;
}

/** Puts `make(path)`'s result in place of the `.env` by a rename, as a deploy tool would. */
async function replaceWith(envFile: string, make: (path: string) => Promise<void>): Promise<void> {
  const aside = `${envFile}.new`;
  await make(aside);
  await Deno.rename(aside, envFile);
}

async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(success, "mkfifo made the pipe");
}

function problemIncludes(text: string) {
  return (s: { invalidToken: { detail: string } | null }) =>
    s.invalidToken?.detail.includes(text) === true;
}

/** Logs in through the daemon and waits for the feed to run on the session it got. */
async function loginAndWait(h: Pick<FaultHarness, "daemon">): Promise<string> {
  const before = h.daemon.actor.snapshot().token?.token;
  assert.equal((await driveLogin(h.daemon.url, KITE)).status, 302);
  const { snapshot } = await reach(h.daemon, "Live on the login's token", (s) => {
    return s.state.name === "Live" && s.token?.source === "callback" && s.token.token !== before;
  });
  return snapshot.token!.token;
}

Deno.test("fault: .env turned into a named pipe, a device, an oversized file → refused without blocking, Live throughout", async () => {
  await using h = await startLive();
  const { daemon } = h;
  const gen = daemon.actor.snapshot().gen;

  // A pipe nobody writes to: a blocking open would wait forever, and SIGTERM with it.
  let start = performance.now();
  await replaceWith(h.envFile, mkfifo);
  // Deno's watch reports nothing for a pipe put in place: the 10 s guard poll notes it.
  await reach(
    daemon,
    "the pipe noted",
    problemIncludes("a named pipe (FIFO), not a regular file"),
    {
      timeoutMs: 20_000,
    },
  );
  report(".env becomes a pipe, a device, 2 MiB", "pipe → noted", since(start));
  await assertServes(daemon, "Live");

  // /dev/zero: a read without a limit would take all memory.
  start = performance.now();
  await replaceWith(h.envFile, (path) => Deno.symlink("/dev/zero", path));
  await reach(daemon, "the device noted", problemIncludes("a character device"));
  report(".env becomes a pipe, a device, 2 MiB", "/dev/zero → noted", since(start));

  // A regular file over the 1 MiB limit is not read.
  start = performance.now();
  await replaceWith(h.envFile, async (path) => {
    await Deno.writeTextFile(path, h.startText + `# ${"x".repeat(2 * 1024 * 1024)}\n`);
  });
  await reach(daemon, "the size noted", problemIncludes("EFBIG"));
  report(".env becomes a pipe, a device, 2 MiB", "2 MiB → noted", since(start));
  const status = await assertServes(daemon, "Live");
  assert.match(status.env_problem ?? "", /over the limit of 1048576 \(KITEKEEPER_ENV_MAX_BYTES\)/);
  assert.equal(daemon.actor.snapshot().gen, gen, "the feed kept its socket throughout");

  // And back to a regular file with a new token.
  const fresh = h.sim.issueAccessToken();
  start = performance.now();
  await replaceWith(h.envFile, async (path) => {
    await Deno.writeTextFile(path, h.startText.replace(h.startToken, fresh), { mode: 0o600 });
  });
  await reach(daemon, "Live on the new token", liveOn(fresh));
  report(".env becomes a pipe, a device, 2 MiB", "regular again → Live on its token", since(start));
  // The pipe must not hold the close (SIGTERM's path) either: this close runs after it.
});

Deno.test("fault: a deploy swaps current -> releases/rN under .env → the new release's token, no SIGHUP", async () => {
  // .env -> current/.env, current -> releases/r1: links on the file and on a directory.
  let releases = "";
  await using h = await startLive({
    async writeEnv(envFile, text) {
      const dir = envFile.slice(0, envFile.lastIndexOf("/"));
      releases = `${dir}/releases`;
      await Deno.mkdir(`${releases}/r1`, { recursive: true });
      await Deno.writeTextFile(`${releases}/r1/.env`, text, { mode: 0o600 });
      await Deno.symlink("releases/r1", `${dir}/current`);
      await Deno.symlink("current/.env", envFile);
    },
  });
  const { daemon, dir } = h;
  const r2Token = h.sim.issueAccessToken();
  await Deno.mkdir(`${releases}/r2`);
  await Deno.writeTextFile(
    `${releases}/r2/.env`,
    h.startText.replace(h.startToken, r2Token),
    { mode: 0o600 },
  );

  // `ln -sfn releases/r2 current`, atomically: a new link renamed over the old one.
  let start = performance.now();
  await Deno.symlink("releases/r2", `${dir}/current.new`);
  await Deno.rename(`${dir}/current.new`, `${dir}/current`);
  await reach(daemon, "Live on r2's token", liveOn(r2Token));
  report("deploy swaps current -> releases/rN", "swap → Live on r2's token", since(start));

  // The watch followed: an in-place write in r2 lands, one in the old r1 does not count.
  const r1Later = h.sim.issueAccessToken();
  await Deno.writeTextFile(
    `${releases}/r1/.env`,
    h.startText.replace(h.startToken, r1Later),
  );
  const r2Later = h.sim.issueAccessToken();
  start = performance.now();
  await renameSave(`${releases}/r2/.env`, r2Later);
  await reach(daemon, "Live on r2's next token", liveOn(r2Later));
  report("deploy swaps current -> releases/rN", "write in r2 → Live on it", since(start));
  assert.notEqual(daemon.actor.snapshot().token?.token, r1Later);

  // A login writes into the release the link leads to now, keeping both links.
  const fromLogin = await loginAndWait(h);
  assert.equal(
    parseEnv(await Deno.readTextFile(`${releases}/r2/.env`))["KITE_ACCESS_TOKEN"],
    fromLogin,
  );
  assert.equal(await Deno.readLink(`${dir}/current`), "releases/r2");
  assert.equal(await Deno.readLink(h.envFile), "current/.env");
});

Deno.test("fault: a hard-linked .env → reported in env_problem and the log, and a login still lands in .env", async () => {
  await using h = await startLive();
  const { daemon, dir } = h;
  const start = performance.now();
  await Deno.link(h.envFile, `${dir}/backup.env`);
  // A link changes no byte, so the next read (here: SIGHUP's) is what notices it.
  await daemon.reload();
  const status = await assertServes(daemon, "Live");
  report("hard-linked .env", "link → reported", since(start));
  assert.match(status.env_problem ?? "", /has 2 hard links: a token write replaces the file/);
  assert.ok(h.lines.some((line) => line.startsWith("warn ") && line.includes("2 hard links")));

  // The write breaks the link, as reported: .env gets the token, the other name keeps the old.
  const fromLogin = await loginAndWait(h);
  assert.equal(parseEnv(await Deno.readTextFile(h.envFile))["KITE_ACCESS_TOKEN"], fromLogin);
  assert.equal(
    parseEnv(await Deno.readTextFile(`${dir}/backup.env`))["KITE_ACCESS_TOKEN"],
    h.startToken,
  );
  await reach(daemon, "the link problem gone", () => daemon.status().env_problem === null);
});

Deno.test("fault: the token key renamed ZERODHA_ → KITE_ while running → a login writes the key the file uses now", async () => {
  // The daemon starts from a file that keeps the token under the seed setup's name.
  let startToken = "";
  await using h = await startHarness({
    dirPrefix: "kitekeeper_fault_",
    env(sim) {
      startToken = sim.issueAccessToken();
      return envText(sim.url, [`ZERODHA_ACCESS_TOKEN=${startToken}`]);
    },
  });
  const { daemon } = h;
  await reach(daemon, "Live on the start token", liveOn(startToken));
  // The operator renames the key by hand (same token).
  const text = await Deno.readTextFile(h.envFile);
  await Deno.writeTextFile(h.envFile, text.replace("ZERODHA_ACCESS_TOKEN=", "KITE_ACCESS_TOKEN="));
  await daemon.reload();

  const start = performance.now();
  const fromLogin = await loginAndWait(h);
  report("token key renamed while running", "login → Live, one key", since(start));
  const values = parseEnv(await Deno.readTextFile(h.envFile));
  assert.equal(values["KITE_ACCESS_TOKEN"], fromLogin);
  assert.equal(values["ZERODHA_ACCESS_TOKEN"], undefined, "never two keys");
  // The file's next read agrees with the feed: the old token never wins back.
  await daemon.reload();
  assert.equal(daemon.actor.snapshot().token?.token, fromLogin);
});

Deno.test("fault: a .env with a Latin-1 comment → a login updates the token, every other byte kept", async () => {
  const latin1 = new Uint8Array([0x23, 0x20, 0x43, 0x61, 0x66, 0xe9, 0x20, 0xa9, 0x0d, 0x0a]); // "# Café ©"
  let original = new Uint8Array();
  await using h = await startLive({
    async writeEnv(envFile, text) {
      const utf8 = new TextEncoder().encode(text);
      original = new Uint8Array([...latin1, ...utf8]);
      await Deno.writeFile(envFile, original, { mode: 0o600 });
    },
  });
  const start = performance.now();
  const fromLogin = await loginAndWait(h);
  report(".env with a Latin-1 comment", "login → written", since(start));
  const after = await Deno.readFile(h.envFile);
  const expected = new TextEncoder().encode(
    h.startText.replace(h.startToken, fromLogin),
  );
  assert.deepEqual(after, new Uint8Array([...latin1, ...expected]));
});

Deno.test("fault: the login's .env write fails → the new session is used, .env reported stale, never rolled back", async () => {
  // The target's name leaves no room for the temp file's suffix: every write fails with
  // ENAMETOOLONG, even for root (who writes through permissions).
  let target = "";
  await using h = await startLive({
    async writeEnv(envFile, text) {
      target = `${envFile.slice(0, envFile.lastIndexOf("/"))}/${"e".repeat(250)}`;
      await Deno.writeTextFile(target, text, { mode: 0o600 });
      await Deno.symlink(target, envFile);
    },
  });
  const { daemon } = h;
  const start = performance.now();
  const fromLogin = await loginAndWait(h);
  report(".env cannot be written at login", "login → Live on the new session", since(start));
  let status = await assertServes(daemon, "Live");
  assert.match(status.env_problem ?? "", /is stale: Failed to write \.env: ENAMETOOLONG/);
  assert.ok(h.lines.some((line) => line.startsWith("error ") && line.includes(".ENV IS STALE")));
  assert.equal(parseEnv(await Deno.readTextFile(target))["KITE_ACCESS_TOKEN"], h.startToken);

  // An unrelated edit re-reads the old token: the feed must not go back to it.
  await Deno.writeTextFile(target, (await Deno.readTextFile(target)) + "# touched\r\n");
  await daemon.reload();
  assert.equal(daemon.actor.snapshot().token?.token, fromLogin, "the old token never wins");
  status = await assertServes(daemon, "Live");
  assert.match(status.env_problem ?? "", /is stale/);

  // A token the operator puts in by hand is the file's own: it wins, and the problem clears.
  const byHand = h.sim.issueAccessToken();
  await renameSave(target, byHand);
  await reach(daemon, "Live on the hand-written token", liveOn(byHand));
  await reach(daemon, "stale cleared", () => daemon.status().env_problem === null);
});

Deno.test("fault: .env given at start as a pipe or /dev/fd/N → refused with one line, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_fault_" });
  try {
    await mkfifo(`${dir}/fifo`);
    await Deno.symlink("/dev/null", `${dir}/null.env`);
    const cases: [string, string, RegExp][] = [
      ["a named pipe", `${dir}/fifo`, /it is a named pipe \(FIFO\), not a regular file/],
      ["/dev/fd/0", "/dev/fd/0", /leads through \/(?:dev|proc)\/.*a file descriptor or device/],
      ["a link to /dev/null", `${dir}/null.env`, /leads through \/dev\/null/],
    ];
    for (const [label, path, expected] of cases) {
      const start = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, "run"]
          .concat(["--env-file", path, "--listen", "127.0.0.1:0"]),
        env: { KITE_API_KEY: KITE.apiKey, KITE_API_SECRET: KITE.apiSecret },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // stdin stays open and silent: a read of /dev/fd/0 would block on it.
      const { code, stderr, stdout } = await child.output();
      report(".env at start is a pipe or /dev/fd/N", `${label} → exit ${code}`, since(start));
      const lines = new TextDecoder().decode(stderr).trim().split("\n");
      assert.equal(code, 2, `${label}: exit 2`);
      assert.equal(lines.length, 1, `${label}: one line, got ${lines.join(" | ")}`);
      assert.match(lines[0]!, /^Refusing --env-file /);
      assert.match(lines[0]!, expected);
      assert.equal(new TextDecoder().decode(stdout), "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
