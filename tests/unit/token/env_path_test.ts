import assert from "node:assert/strict";
import { envPathProblem, readRegularFile } from "../../../src/token/env_path.ts";
import { symlinkChain } from "../../../src/token/symlink_chain.ts";
import { readEnvFile, writeToken } from "../../../src/token/env_file.ts";
import { watchEnvFile } from "../../../src/token/env_watcher.ts";
import { withTempDir } from "../../_support/temp_dir.ts";

const PREFIX = "kitekeeper_env_path_";
const NEW = "newTokennewTokennewTokennewToken";

async function mkfifo(path: string): Promise<void> {
  assert.ok((await new Deno.Command("mkfifo", { args: [path] }).output()).success);
}

Deno.test("readEnvFile() refuses a pipe nobody writes to, and a device, at once and by name", async () => {
  await withTempDir(PREFIX, async (dir) => {
    await mkfifo(`${dir}/fifo`);
    await Deno.symlink("/dev/zero", `${dir}/zero`);
    assert.deepEqual(await readEnvFile(`${dir}/fifo`), {
      kind: "unreadable",
      detail: "a named pipe (FIFO), not a regular file",
    });
    assert.deepEqual(await readEnvFile(`${dir}/zero`), {
      kind: "unreadable",
      detail: "a character device, not a regular file",
    });
  });
});

Deno.test("readRegularFile() reads no more than the limit and says so", async () => {
  await withTempDir(PREFIX, async (dir) => {
    await Deno.writeTextFile(`${dir}/big`, "x".repeat(4096));
    const over = await readRegularFile(`${dir}/big`, { maxBytes: 4095 });
    assert.equal(over.kind, "refused");
    assert.match(over.kind === "refused" ? over.detail : "", /^EFBIG: 4096 bytes or more/);
    const fits = await readRegularFile(`${dir}/big`, { maxBytes: 4096 });
    assert.equal(fits.kind === "ok" ? fits.bytes.length : -1, 4096);
  });
});

Deno.test("readEnvFile() counts hard links", async () => {
  await withTempDir(PREFIX, async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "A=1\n");
    await Deno.link(`${dir}/.env`, `${dir}/other`);
    const read = await readEnvFile(`${dir}/.env`);
    assert.equal(read.kind === "ok" ? read.links : 0, 2);
  });
});

Deno.test("symlinkChain() follows a link on a directory on the way, not only on the file", async () => {
  await withTempDir(PREFIX, async (dir) => {
    const real = await Deno.realPath(dir);
    await Deno.mkdir(`${real}/releases/r1`, { recursive: true });
    await Deno.symlink("releases/r1", `${real}/current`);
    await Deno.symlink("current/.env", `${real}/.env`);
    assert.deepEqual(await symlinkChain(`${real}/.env`), {
      links: [`${real}/.env`, `${real}/current`],
      target: `${real}/releases/r1/.env`,
    });
  });
});

Deno.test("envPathProblem() refuses a pipe, a device and /dev/fd/N; accepts a file, a link to one, or none", async () => {
  await withTempDir(PREFIX, async (dir) => {
    await mkfifo(`${dir}/fifo`);
    await Deno.writeTextFile(`${dir}/file`, "");
    await Deno.symlink("file", `${dir}/link`);
    assert.match((await envPathProblem(`${dir}/fifo`)) ?? "", /named pipe/);
    assert.match((await envPathProblem("/dev/null")) ?? "", /device path/);
    assert.match((await envPathProblem("/dev/fd/0")) ?? "", /file descriptor or device path/);
    assert.equal(await envPathProblem(`${dir}/file`), null);
    assert.equal(await envPathProblem(`${dir}/link`), null);
    assert.equal(await envPathProblem(`${dir}/missing`), null);
  });
});

Deno.test("writeToken() keeps bytes that are not UTF-8 exactly (a Latin-1 comment)", async () => {
  await withTempDir(PREFIX, async (dir) => {
    const head = [0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]; // "# café" in Latin-1
    const body = new TextEncoder().encode("KITE_ACCESS_TOKEN=old\nB=\xfe\n");
    await Deno.writeFile(`${dir}/.env`, new Uint8Array([...head, ...body]));
    assert.equal(await writeToken(`${dir}/.env`, NEW), "written");
    const expected = new TextEncoder().encode(`KITE_ACCESS_TOKEN=${NEW}\nB=\xfe\n`);
    assert.deepEqual(await Deno.readFile(`${dir}/.env`), new Uint8Array([...head, ...expected]));
  });
});

Deno.test("writeToken() writes the key the file uses now", async () => {
  await withTempDir(PREFIX, async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "ZERODHA_ACCESS_TOKEN=old\n");
    await writeToken(`${dir}/.env`, NEW);
    assert.equal(await Deno.readTextFile(`${dir}/.env`), `ZERODHA_ACCESS_TOKEN=${NEW}\n`);
    await Deno.writeTextFile(`${dir}/.env`, "KITE_ACCESS_TOKEN=old\n");
    await writeToken(`${dir}/.env`, NEW);
    assert.equal(await Deno.readTextFile(`${dir}/.env`), `KITE_ACCESS_TOKEN=${NEW}\n`);
  });
});

Deno.test("watchEnvFile() reads a file rewritten faster than its debounce within the maximum wait", async () => {
  await withTempDir(PREFIX, async (dir) => {
    const path = `${dir}/.env`;
    await Deno.writeTextFile(path, "A=0\n");
    // Injected timers on a hand-moved clock: every arming is recorded, none fires by itself.
    let now = 0;
    const armed: { at: number; ms: number; fn: () => void }[] = [];
    let onArm: (() => void) | undefined;
    const timers = {
      setTimeout(fn: () => void, ms: number): number {
        armed.push({ at: now, ms, fn });
        onArm?.();
        return armed.length;
      },
      clearTimeout(): void {},
      now: () => now,
    };
    const reads: string[] = [];
    const watcher = watchEnvFile(path, {
      onRead: (read) => reads.push(read.kind),
      timers,
      debounceMs: 50,
      maxWaitMs: 250,
      pollMs: 0,
    });
    try {
      const nextArm = () => new Promise<void>((resolve) => (onArm = resolve));
      // The first read, when the watch is in place.
      while (armed.length === 0) await nextArm();
      armed.at(-1)!.fn();
      while (reads.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const firstEvent = armed.length;
      // A rewrite every 30 ms (of the hand-moved clock) for 600 ms.
      for (let n = 1; n <= 20; n++) {
        const arming = nextArm();
        await Deno.writeTextFile(path, `A=${n}\n`);
        await arming;
        now += 30;
      }
      const start = armed[firstEvent]!.at;
      // Without a maximum wait, each event would push the read 50 ms past itself, forever;
      // with it, no read is set later than 250 ms after the first event (or at once, past it).
      const late = armed.slice(firstEvent).filter(({ at, ms }) =>
        at + ms > Math.max(at, start + 250)
      );
      assert.deepEqual(late, [], "every read due within 250 ms of the first event");
      assert.ok(armed.some(({ at }) => at > start + 250), "the rewrites went on past the bound");
    } finally {
      onArm = undefined;
      await watcher.close();
    }
  });
});
