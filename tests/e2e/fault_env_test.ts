/**
 * The fault matrix, `.env` side: what people, editors and tools do to the file while the
 * daemon runs, against real files, the real watcher, the simulator and a real daemon. Each
 * test asserts the state reached, that the process still serves, and that nothing was lost,
 * and prints how long the change took to land (`fault matrix | row | …`). The watcher's
 * debounce is its default 50 ms unless a row says otherwise.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import type { Daemon } from "../../src/daemon.ts";
import { fingerprint } from "../../src/token/fingerprint.ts";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { envText, KITE } from "../../src/testing/daemon_harness.ts";
import {
  assertNothingLost,
  assertServes,
  type FaultHarness,
  liveOn,
  reach,
  renameSave,
  report,
  since,
  startFaultHarness,
  ticksResume,
  tokenInFile,
  witness,
} from "../_support/fault_fixture.ts";

const TOKEN_SHAPE = /^[A-Za-z0-9]{32}$/;

function handshakes(h: FaultHarness): number {
  const { accepted, rejected } = h.sim.stats().handshakes;
  return accepted + rejected;
}

/** The start `.env` text with `token` on its token line. */
function withToken(h: FaultHarness, token: string): string {
  return h.startText.replace(h.startToken, token);
}

/** Writes `text` beside `path` and renames it over, as editors and tools do. */
async function replaceFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text, { mode: 0o600 });
  await Deno.rename(`${path}.tmp`, path);
}

/** Records every state the daemon passes through from now on. */
function recordStates(daemon: Daemon): { states: string[]; stop: () => void } {
  const states: string[] = [];
  const stop = daemon.actor.subscribe((s, previous) => {
    if (s.state.name !== previous.state.name) states.push(s.state.name);
  });
  return { states, stop };
}

async function startLive(options: Parameters<typeof startFaultHarness>[0] = {}) {
  const h = await startFaultHarness(options);
  await reach(h.daemon, "Live on the start token", liveOn(h.startToken));
  await ticksResume(h.daemon, Date.now());
  return h;
}

Deno.test("fault: a .env caught half-written → the cut token never reaches the ticker, the whole one does", async () => {
  await using h = await startLive();
  const { daemon } = h;
  const fresh = h.sim.issueAccessToken();
  const handshakesBefore = handshakes(h);
  const acceptedBefore = h.sim.stats().handshakes.accepted;
  const text = withToken(h, fresh);
  const cut = text.indexOf(fresh) + 20;

  // A writer that truncates, writes part of the file, and is slow to write the rest.
  const file = await Deno.open(h.envFile, { write: true, truncate: true });
  try {
    const start = performance.now();
    await file.write(new TextEncoder().encode(text.slice(0, cut)));
    const noted = await reach(daemon, "the cut token noted", (s) => {
      return s.invalidToken?.detail.includes("holds an invalid token") === true;
    });
    report("half-written .env", "first half → noted as invalid", since(start));
    assert.equal(noted.snapshot.state.name, "Live");
    assert.equal(noted.snapshot.token?.token, h.startToken, "the feed keeps the last good token");
    assert.equal(handshakes(h), handshakesBefore, "no handshake with the cut token");
    const status = await assertServes(daemon, "Live");
    assert.match(status.env_problem ?? "", /holds an invalid token, not used: .* 20 characters/);
    assert.ok(!JSON.stringify(status).includes(fresh.slice(0, 20)), "no token text in /status");

    const rest = performance.now();
    await file.write(new TextEncoder().encode(text.slice(cut)));
    await reach(daemon, "Live on the whole token", liveOn(fresh));
    report("half-written .env", "second half → Live on the new token", since(rest));
  } finally {
    file.close();
  }
  assert.equal(h.sim.stats().handshakes.accepted - acceptedBefore, 1);
  assert.equal(handshakes(h) - handshakesBefore, 1, "one handshake, with the whole token");
  const status = await assertServes(daemon, "Live");
  assert.equal(status.env_problem, null);
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: .env deleted, then re-created → the feed stays Live meanwhile, then moves to the new token", async () => {
  await using h = await startLive();
  const { daemon } = h;
  const gen = daemon.actor.snapshot().gen;

  const deleted = performance.now();
  await Deno.remove(h.envFile);
  const noted = await reach(daemon, "the missing file noted", (s) => {
    return s.invalidToken?.detail.endsWith("does not exist") === true;
  });
  report(".env deleted, re-created", "delete → noted", since(deleted));
  await ticksResume(daemon, Date.now());
  assert.equal(daemon.actor.snapshot().gen, gen, "the same socket, untouched");
  assert.equal(noted.snapshot.token?.token, h.startToken);
  const status = await assertServes(daemon, "Live");
  assert.equal(status.env_problem, `${h.envFile} does not exist`);

  const fresh = h.sim.issueAccessToken();
  const created = performance.now();
  await Deno.writeTextFile(h.envFile, withToken(h, fresh), { mode: 0o600 });
  await reach(daemon, "Live on the re-created file's token", liveOn(fresh));
  report(".env deleted, re-created", "re-create → Live on the new token", since(created));
  assert.equal((await assertServes(daemon, "Live")).env_problem, null);
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: an editor's rename-save (temp + rename, and vim's move-away + write) → Live on each new token", async () => {
  await using h = await startLive();
  const { daemon } = h;
  const { states, stop } = recordStates(daemon);
  const acceptedBefore = h.sim.stats().handshakes.accepted;

  // Most editors and tools: write a temp file beside it, rename it over.
  const first = h.sim.issueAccessToken();
  const saved = performance.now();
  await renameSave(h.envFile, first);
  await reach(daemon, "Live after a temp + rename save", liveOn(first));
  report("editor rename-save", "temp + rename → Live on the new token", since(saved));

  // vim (backupcopy=no): move the file away as a backup, write a new one, delete the backup.
  const second = h.sim.issueAccessToken();
  const vim = performance.now();
  await Deno.rename(h.envFile, `${h.envFile}~`);
  await Deno.writeTextFile(h.envFile, withToken(h, second), { mode: 0o600 });
  await Deno.remove(`${h.envFile}~`);
  await reach(daemon, "Live after a vim-style save", liveOn(second));
  report("editor rename-save", "move-away + write → Live on the new token", since(vim));
  stop();

  assert.deepEqual(states, ["Reconnecting", "Live", "Reconnecting", "Live"], "never Expired");
  assert.equal(h.sim.stats().handshakes.accepted - acceptedBefore, 2, "one handshake a token");
  assert.equal(h.sim.stats().handshakes.rejected, 0);
  await assertServes(daemon, "Live");
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: a symlink swap → the token of the new target, and the watch follows it", async () => {
  async function linkInto(envFile: string, text: string): Promise<void> {
    await Deno.mkdir(`${dirname(envFile)}/release-a`);
    await Deno.writeTextFile(`${dirname(envFile)}/release-a/kite.env`, text, { mode: 0o600 });
    await Deno.symlink("release-a/kite.env", envFile);
  }
  await using h = await startLive({ writeEnv: linkInto });
  const { daemon } = h;
  assert.ok((await Deno.lstat(h.envFile)).isSymlink);
  const acceptedBefore = h.sim.stats().handshakes.accepted;

  // Deploy a new release beside the old, then swap the link atomically (ln -s + mv -T).
  const swapped = h.sim.issueAccessToken();
  await Deno.mkdir(`${h.dir}/release-b`);
  await Deno.writeTextFile(`${h.dir}/release-b/kite.env`, withToken(h, swapped), { mode: 0o600 });
  const swap = performance.now();
  await Deno.symlink("release-b/kite.env", `${h.envFile}.new`);
  await Deno.rename(`${h.envFile}.new`, h.envFile);
  await reach(daemon, "Live on the new target's token", liveOn(swapped));
  report("symlink swap", "swap → Live on the new target's token", since(swap));

  // The watch moved to the new target's directory: an in-place write there lands.
  const edited = h.sim.issueAccessToken();
  const edit = performance.now();
  await Deno.writeTextFile(`${h.dir}/release-b/kite.env`, withToken(h, edited));
  await reach(daemon, "Live on the edited target's token", liveOn(edited));
  report("symlink swap", "write to the new target → Live", since(edit));

  // The old target is no longer the .env: writing it changes nothing.
  await Deno.writeTextFile(`${h.dir}/release-a/kite.env`, withToken(h, h.sim.issueAccessToken()));
  await witness(h.sim, 6);
  assert.equal(daemon.actor.snapshot().token?.token, edited);
  assert.equal(h.sim.stats().handshakes.accepted - acceptedBefore, 3, "two tokens + the witness");
  assert.ok((await Deno.lstat(h.envFile)).isSymlink, "the link is still a link");
  await assertServes(daemon, "Live");
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: CRLF, LF, BOM, quoted, export and duplicate-key files → each gives the right token", async () => {
  // The daemon starts from the hardest one: a BOM right before an `export`ed first line.
  async function bomExport(envFile: string, text: string): Promise<void> {
    const token = /^KITE_ACCESS_TOKEN=(.*)\r$/m.exec(text)?.[1] ?? "";
    const rest = text.replace(/^KITE_ACCESS_TOKEN=.*\r\n/m, "");
    await Deno.writeTextFile(envFile, `\uFEFFexport KITE_ACCESS_TOKEN=${token}\r\n${rest}`, {
      mode: 0o600,
    });
  }
  await using h = await startLive({ writeEnv: bomExport });
  const { daemon } = h;
  const base = envText(h.sim.url);
  const acceptedBefore = h.sim.stats().handshakes.accepted;

  const older = h.sim.issueAccessToken();
  const variants: [string, (token: string) => string][] = [
    ["CRLF", (t) => `${base}KITE_ACCESS_TOKEN=${t}\r\n`],
    ["LF", (t) => `${base}KITE_ACCESS_TOKEN=${t}\n`.replaceAll("\r\n", "\n")],
    ["BOM", (t) => `\uFEFFKITE_ACCESS_TOKEN=${t}\r\n${base}`],
    ["double-quoted", (t) => `${base}KITE_ACCESS_TOKEN="${t}" # pasted by hand\r\n`],
    ["single-quoted", (t) => `${base}KITE_ACCESS_TOKEN='${t}'\r\n`],
    ["export", (t) => `${base}export KITE_ACCESS_TOKEN=${t}\r\n`],
    ["no final newline", (t) => `${base}KITE_ACCESS_TOKEN=${t}`],
    ["duplicate key", (t) => `KITE_ACCESS_TOKEN=${older}\r\n${base}KITE_ACCESS_TOKEN=${t}\r\n`],
  ];
  for (const [name, render] of variants) {
    const token = h.sim.issueAccessToken();
    const start = performance.now();
    await replaceFile(h.envFile, render(token));
    await reach(daemon, `Live on the ${name} file's token`, liveOn(token));
    report("CRLF/BOM/quoted/export/duplicate", `${name} → Live`, since(start));
    assert.equal(await tokenInFile(h.envFile), token, `dotenv reads the ${name} file the same`);
  }
  assert.equal(
    h.sim.stats().handshakes.accepted - acceptedBefore,
    variants.length,
    "one handshake a file: the duplicate's first value was never used",
  );
  assert.equal(h.sim.stats().handshakes.rejected, 0);
  assert.equal(daemon.actor.snapshot().invalidToken, null);
  await assertServes(daemon, "Live");
  await assertNothingLost(h, Date.now());
});

Deno.test("fault: .env unreadable (a directory in its place: EISDIR), then readable again → Live throughout", async () => {
  await using h = await startLive();
  const { daemon } = h;
  const gen = daemon.actor.snapshot().gen;

  const broken = performance.now();
  await Deno.remove(h.envFile);
  await Deno.mkdir(h.envFile);
  await reach(daemon, "the unreadable file noted", (s) => {
    return s.invalidToken?.detail.includes("EISDIR") === true;
  });
  report(".env unreadable", "directory in its place → noted", since(broken));
  await ticksResume(daemon, Date.now());
  assert.equal(daemon.actor.snapshot().gen, gen, "the feed keeps its socket");
  const status = await assertServes(daemon, "Live");
  assert.equal(
    status.env_problem,
    `Failed to read ${h.envFile}: EISDIR: a directory, not a regular file`,
  );

  // Readable again, with the same token: nothing to reconnect, and the problem is gone.
  const fixed = performance.now();
  await Deno.remove(h.envFile);
  await Deno.writeTextFile(h.envFile, h.startText, { mode: 0o600 });
  await reach(daemon, "the problem cleared", (s) => s.invalidToken === null);
  report(".env unreadable", "readable again → problem cleared", since(fixed));
  assert.equal(daemon.actor.snapshot().gen, gen);
  assert.equal((await assertServes(daemon, "Live")).env_problem, null);

  // And unreadable, then readable with a new token: Live on it.
  await Deno.remove(h.envFile);
  await Deno.mkdir(h.envFile);
  await reach(daemon, "unreadable again", (s) => s.invalidToken !== null);
  const fresh = h.sim.issueAccessToken();
  const swapped = performance.now();
  await Deno.remove(h.envFile);
  await Deno.writeTextFile(h.envFile, withToken(h, fresh), { mode: 0o600 });
  await reach(daemon, "Live on the readable file's token", liveOn(fresh));
  report(".env unreadable", "readable with a new token → Live", since(swapped));
  assert.equal((await assertServes(daemon, "Live")).env_problem, null);
  await assertNothingLost(h, Date.now());
});

const isRoot = Deno.uid() === 0;
if (isRoot) {
  console.log(
    "fault_env_test: skipping the chmod 000 row: tests run as root, where permissions do not " +
      "block reads (the directory-in-its-place row covers an unreadable .env)",
  );
}

Deno.test({
  name: "fault: .env unreadable by permissions (chmod 000), then readable again → Live throughout",
  ignore: isRoot,
  async fn() {
    await using h = await startLive();
    const { daemon } = h;
    const gen = daemon.actor.snapshot().gen;
    const start = performance.now();
    await Deno.chmod(h.envFile, 0o000);
    await reach(daemon, "EACCES noted", (s) => s.invalidToken?.detail.endsWith("EACCES") === true);
    report(".env unreadable (chmod 000)", "chmod 000 → noted", since(start));
    assert.match((await assertServes(daemon, "Live")).env_problem ?? "", /EACCES$/);
    const fixed = performance.now();
    await Deno.chmod(h.envFile, 0o600);
    await reach(daemon, "the problem cleared", (s) => s.invalidToken === null);
    report(".env unreadable (chmod 000)", "chmod 600 → problem cleared", since(fixed));
    assert.equal(daemon.actor.snapshot().gen, gen);
    await assertNothingLost(h, Date.now());
  },
});

/**
 * The fingerprint of the token the login callback wrote, from the daemon's log line (the
 * callback hands it over after answering; every tick re-checks).
 */
async function callbackFingerprint(h: FaultHarness, count: number): Promise<string> {
  const pattern = /Login completed for \w+; token ([0-9a-f]{12}) written/;
  const printed = () => h.lines.flatMap((line) => pattern.exec(line)?.[1] ?? []);
  await reach(h.daemon, `login ${count} handed over`, () => printed().length >= count);
  return printed()[count - 1] ?? "";
}

/**
 * Once both writers are done: the `.env` holds a well-formed token that is one of the two,
 * the daemon is Live on exactly that token, and still is after a stretch longer than the
 * watcher's debounce.
 */
async function assertSettled(h: FaultHarness, candidates: readonly string[]): Promise<string> {
  const inFile = await tokenInFile(h.envFile) ?? "";
  assert.match(inFile, TOKEN_SHAPE, ".env holds a well-formed token");
  const print = fingerprint(inFile);
  assert.ok(candidates.includes(print), `.env holds one of ${candidates.join(", ")}`);
  await reach(h.daemon, `Live on the .env's token ${print}`, liveOn(inFile), { timeoutMs: 3_000 });
  await witness(h.sim, 10);
  assert.equal(await tokenInFile(h.envFile), inFile, ".env did not change after settling");
  const used = h.daemon.actor.snapshot().token;
  assert.equal(used?.fingerprint, print, "the daemon uses the .env's token");
  await assertNothingLost(h, Date.now());
  return print;
}

Deno.test("fault: a login callback and a hand edit at the same moment → Live on the token .env holds", async () => {
  // A long debounce widens the window in which the two writes can interleave.
  await using h = await startLive({ debounceMs: 200 });
  const { daemon } = h;
  const login = async () => assert.equal((await driveLogin(daemon.url, KITE)).status, 302);
  const rounds: [string, (token: string) => Promise<void>][] = [
    ["edit as the login starts", async (token) => {
      await Promise.all([login(), renameSave(h.envFile, token)]);
    }],
    ["edit right after the callback's write", async (token) => {
      await login();
      await renameSave(h.envFile, token);
    }],
    ["edit from a buffer read before the login", async (token) => {
      const buffer = await Deno.readTextFile(h.envFile);
      await login();
      const line = `KITE_ACCESS_TOKEN=${token}`;
      await replaceFile(h.envFile, buffer.replace(/^KITE_ACCESS_TOKEN=[^\r\n]*/m, line));
    }],
  ];
  for (const [index, [name, race]] of rounds.entries()) {
    const hand = h.sim.issueAccessToken();
    const start = performance.now();
    await race(hand);
    const candidates = [fingerprint(hand), await callbackFingerprint(h, index + 1)];
    const winner = await assertSettled(h, candidates);
    report(
      "callback and hand edit at once",
      `${name}: ${winner === candidates[0] ? "the hand edit" : "the callback"} won, settled`,
      since(start),
    );
    await assertServes(daemon, "Live");
  }
});

Deno.test("fault: a login callback undone at once by a tool restoring the old .env → the daemon follows the file", async () => {
  // Config management (or a backup restore, or an editor saving an untouched buffer) writes
  // back the exact bytes the watcher last read, within its debounce of the callback's write.
  // Before the fix the watcher took them for "unchanged" and the daemon kept the callback's
  // token while .env held the old one.
  await using h = await startLive({ debounceMs: 200 });
  const { daemon } = h;
  const start = performance.now();
  assert.equal((await driveLogin(daemon.url, KITE)).status, 302);
  await replaceFile(h.envFile, h.startText);
  const fromCallback = await callbackFingerprint(h, 1);
  const winner = await assertSettled(h, [fingerprint(h.startToken)]);
  report("callback undone by a restore", "restore → Live on the file's token", since(start));
  assert.notEqual(winner, fromCallback);
  assert.equal(daemon.actor.snapshot().token?.token, h.startToken);
});
