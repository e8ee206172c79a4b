import assert from "node:assert/strict";
import { join } from "node:path";
import { onPath, type Run, run } from "../_support/run.ts";
import { withTempDir } from "../_support/temp_dir.ts";

const INSTALL_SH = new URL("../../scripts/install.sh", import.meta.url).pathname;
const UNIT = new URL("../../scripts/kitekeeper.service", import.meta.url).pathname;
const TEMP_PREFIX = "kitekeeper_install_";

/** Runs install.sh into `destdir`: never without one, so a test cannot touch the real system. */
function install(destdir: string, args: readonly string[]): Promise<Run> {
  assert.ok(destdir.startsWith("/") && destdir.length > 1, `unsafe DESTDIR ${destdir}`);
  return run("sh", [INSTALL_SH, ...args], { env: { DESTDIR: destdir } });
}

/** Every path under `root` (relative, sorted) with its kind and permission bits. */
async function tree(root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  async function walk(dir: string, prefix: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path);
      const rel = `${prefix}${entry.name}`;
      const kind = info.isDirectory ? "d" : info.isFile ? "f" : "l";
      found[rel] = `${kind} ${((info.mode ?? 0) & 0o777).toString(8).padStart(4, "0")}`;
      if (info.isDirectory) await walk(path, `${rel}/`);
    }
  }
  await walk(root, "");
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)));
}

async function standIn(dir: string, text: string): Promise<string> {
  const path = join(dir, "kitekeeper");
  await Deno.writeTextFile(path, `#!/bin/sh\necho ${text}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

const HAS_SYSUSERS = await onPath("systemd-sysusers") !== undefined;
if (!HAS_SYSUSERS) {
  console.log("install_test: systemd-sysusers is not on PATH; skipping the sysusers.d check");
}

Deno.test("install.sh stages the binary, unit, user, private env dir and .env template", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const binary = await standIn(dir, "stand-in-1");
    const root = join(dir, "root");
    const run = await install(root, [binary]);
    assert.equal(run.code, 0, run.stderr);

    assert.deepEqual(await tree(root), {
      "etc": "d 0755",
      "etc/kitekeeper": "d 0700",
      "etc/kitekeeper/.env": "f 0600",
      "etc/systemd": "d 0755",
      "etc/systemd/system": "d 0755",
      "etc/systemd/system/kitekeeper.service": "f 0644",
      "usr": "d 0755",
      "usr/lib": "d 0755",
      "usr/lib/sysusers.d": "d 0755",
      "usr/lib/sysusers.d/kitekeeper.conf": "f 0644",
      "usr/local": "d 0755",
      "usr/local/bin": "d 0755",
      "usr/local/bin/kitekeeper": "f 0755",
    });
    assert.deepEqual(
      await Deno.readFile(join(root, "usr/local/bin/kitekeeper")),
      await Deno.readFile(binary),
    );
    assert.deepEqual(
      await Deno.readFile(join(root, "etc/systemd/system/kitekeeper.service")),
      await Deno.readFile(UNIT),
    );
    const template = await Deno.readTextFile(join(root, "etc/kitekeeper/.env"));
    assert.match(template, /^KITE_API_KEY=$/m);
    assert.match(template, /^KITE_API_SECRET=$/m);
    // An empty token line would read as "invalid"; the daemon appends it after a login.
    assert.doesNotMatch(template, /^KITE_ACCESS_TOKEN=/m);
    const sysusers = await Deno.readTextFile(join(root, "usr/lib/sysusers.d/kitekeeper.conf"));
    assert.match(sysusers, /^u kitekeeper - "[^"]+" \/nonexistent \/usr\/sbin\/nologin$/m);
    assert.match(run.stdout, /Wrote a template/);
  });
});

Deno.test("install.sh run twice keeps an existing .env byte-identical and upgrades the binary", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const root = join(dir, "root");
    assert.equal((await install(root, [await standIn(dir, "stand-in-1")])).code, 0);
    const envFile = join(root, "etc/kitekeeper/.env");
    const mine = new TextEncoder().encode(
      "KITE_API_KEY=kk_live\nKITE_API_SECRET=s3cret\nKITE_ACCESS_TOKEN=abc\n# mine\n",
    );
    await Deno.writeFile(envFile, mine);
    const before = await Deno.stat(envFile);

    const upgraded = await standIn(dir, "stand-in-2");
    const run = await install(root, [upgraded]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Kept the existing/);
    assert.deepEqual(await Deno.readFile(envFile), mine);
    const after = await Deno.stat(envFile);
    assert.equal(after.mode, before.mode);
    assert.equal(after.ino, before.ino, "the .env was replaced, not kept");
    assert.deepEqual(
      await Deno.readFile(join(root, "usr/local/bin/kitekeeper")),
      await Deno.readFile(upgraded),
    );
    // No temp files left behind by the atomic copies.
    const leftovers = Object.keys(await tree(root)).filter((path) => path.includes(".tmp."));
    assert.deepEqual(leftovers, []);
  });
});

Deno.test("install.sh refuses a missing binary and creates nothing", async () => {
  await withTempDir(TEMP_PREFIX, async (dir) => {
    const root = join(dir, "root");
    const missing = join(dir, "no-such-kitekeeper");
    const run = await install(root, [missing]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /Failed to find the binary/);
    assert.ok(run.stderr.includes(missing), run.stderr);
    await assert.rejects(Deno.stat(root), Deno.errors.NotFound);
  });
});

Deno.test({
  name: "install.sh's sysusers.d line is accepted by systemd-sysusers",
  ignore: !HAS_SYSUSERS,
  async fn() {
    await withTempDir(TEMP_PREFIX, async (dir) => {
      const root = join(dir, "root");
      assert.equal((await install(root, [await standIn(dir, "stand-in-1")])).code, 0);
      const output = await run("systemd-sysusers", ["--dry-run", `--root=${root}`]);
      const text = output.stdout + output.stderr;
      assert.equal(output.code, 0, text);
      assert.match(text, /Creating user '?kitekeeper'?/);
      assert.doesNotMatch(text, /kitekeeper\.conf:\d+/, "sysusers reported a bad line");
    });
  },
});
