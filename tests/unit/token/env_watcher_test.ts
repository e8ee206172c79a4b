import assert from "node:assert/strict";
import { type EnvReadResult, writeToken } from "../../../src/token/env_file.ts";
import { type EnvWatcher, watchEnvFile } from "../../../src/token/env_watcher.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";

const TIMEOUT_MS = 5000;

function token(n: number): string {
  return `tok${String(n).padStart(29, "0")}`;
}

function tokenOf(read: EnvReadResult): string | undefined {
  return read.kind === "ok"
    ? read.values["KITE_ACCESS_TOKEN"] ?? read.values["ZERODHA_ACCESS_TOKEN"]
    : undefined;
}

function describe(read: EnvReadResult): string {
  return read.kind === "ok" ? `ok(${tokenOf(read)})` : read.kind;
}

/** Collects onRead calls; `next()` waits for one, failing (not hanging) after a timeout. */
function recorder() {
  const reads: EnvReadResult[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  return {
    reads,
    onRead(read: EnvReadResult): void {
      reads.push(read);
      wake?.();
    },
    /** The reads after the last `next()`, up to and including the first that matches. */
    async next(
      match: (read: EnvReadResult) => boolean,
      label: string,
    ): Promise<EnvReadResult[]> {
      const start = cursor;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        while (true) {
          while (cursor < reads.length) {
            if (match(reads[cursor++]!)) return reads.slice(start, cursor);
          }
          await new Promise<void>((resolve, reject) => {
            wake = resolve;
            timer = setTimeout(() => {
              const seen = reads.slice(start).map(describe).join(", ");
              reject(new Error(`Timed out waiting for ${label}; saw [${seen}]`));
            }, TIMEOUT_MS);
          });
          clearTimeout(timer);
        }
      } finally {
        clearTimeout(timer);
        wake = undefined;
      }
    },
    /** Waits for the read whose token is `expected`. */
    token(expected: string): Promise<EnvReadResult[]> {
      return this.next((read) => tokenOf(read) === expected, `token ${expected}`);
    },
    /** The very next read, whatever it is. */
    async one(): Promise<EnvReadResult> {
      const [read] = await this.next(() => true, "any read");
      return read!;
    },
  };
}

async function withWatcher(
  fn: (
    context: { dir: string; path: string; log: ReturnType<typeof recorder>; watcher: EnvWatcher },
  ) => Promise<void>,
  options: { initial?: string; link?: boolean; retryMs?: number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_watch_" });
  const path = `${dir}/.env`;
  if (options.initial !== undefined) await Deno.writeTextFile(path, options.initial);
  const log = recorder();
  const watcher = watchEnvFile(path, {
    onRead: log.onRead,
    ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }),
  });
  try {
    await fn({ dir, path, log, watcher });
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("watchEnvFile() reports the file once at start, then an in-place edit", async () => {
  await withWatcher(async ({ path, log }) => {
    assert.equal(tokenOf(await log.one()), token(1));
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await log.token(token(2));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() reports a missing file at start, then its creation", async () => {
  await withWatcher(async ({ path, log }) => {
    assert.deepEqual(await log.one(), { kind: "missing" });
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    await log.token(token(1));
  });
});

Deno.test("watchEnvFile() survives delete and re-create", async () => {
  await withWatcher(async ({ path, log }) => {
    await log.token(token(1));
    await Deno.remove(path);
    await log.next((read) => read.kind === "missing", "missing");
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await log.token(token(2));
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(3)}\n`);
    await log.token(token(3));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() follows rename-saves, again and again", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.token(token(1));
    for (const n of [2, 3, 4]) {
      await Deno.writeTextFile(`${dir}/.env.tmp-${n}`, `KITE_ACCESS_TOKEN=${token(n)}\n`);
      await Deno.rename(`${dir}/.env.tmp-${n}`, path);
      await log.token(token(n));
    }
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() follows an editor's backup-and-rewrite save", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.token(token(1));
    await Deno.rename(path, `${dir}/.env~`);
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await Deno.remove(`${dir}/.env~`);
    await log.token(token(2));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() follows a symlink swapped to a new target, then edits to it", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.next((read) => read.kind === "missing", "missing");
    await Deno.writeTextFile(`${dir}/a.env`, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    await Deno.writeTextFile(`${dir}/b.env`, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await Deno.symlink("a.env", path);
    await log.token(token(1));
    // `ln -sfn`, atomically: a new link renamed over the old one.
    await Deno.symlink("b.env", `${dir}/.env.new`);
    await Deno.rename(`${dir}/.env.new`, path);
    await log.token(token(2));
    await Deno.writeTextFile(`${dir}/b.env`, `KITE_ACCESS_TOKEN=${token(3)}\n`);
    await log.token(token(3));
  });
});

Deno.test("watchEnvFile() follows edits to a symlink's target in other directories", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.next((read) => read.kind === "missing", "missing");
    await Deno.mkdir(`${dir}/one`);
    await Deno.mkdir(`${dir}/two`);
    await Deno.writeTextFile(`${dir}/one/kite.env`, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    await Deno.writeTextFile(`${dir}/two/kite.env`, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await Deno.symlink(`${dir}/one/kite.env`, path);
    await log.token(token(1));
    await Deno.writeTextFile(`${dir}/one/kite.env`, `KITE_ACCESS_TOKEN=${token(3)}\n`);
    await log.token(token(3));
    await Deno.symlink(`${dir}/two/kite.env`, `${dir}/.env.new`);
    await Deno.rename(`${dir}/.env.new`, path);
    await log.token(token(2));
    await Deno.writeTextFile(`${dir}/two/kite.env`, `KITE_ACCESS_TOKEN=${token(4)}\n`);
    await log.token(token(4));
  });
});

Deno.test("watchEnvFile() reports a half-written file and then the finished one", async () => {
  await withWatcher(async ({ path, log }) => {
    await log.token(token(1));
    using file = await Deno.open(path, { write: true, truncate: true });
    const half = `KITE_ACCESS_TOKEN=${token(2).slice(0, 16)}`;
    await file.write(new TextEncoder().encode(half));
    await log.token(token(2).slice(0, 16));
    await file.write(new TextEncoder().encode(`${token(2).slice(16)}\n`));
    await log.token(token(2));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() parses CRLF, a BOM, quotes, export and comments", async () => {
  await withWatcher(async ({ path, log }) => {
    await log.one();
    await Deno.writeTextFile(
      path,
      `\uFEFF# rotated daily\r\nKITE_API_KEY=k\r\nexport ZERODHA_ACCESS_TOKEN="${
        token(5)
      }" # new\r\n`,
    );
    const reads = await log.token(token(5));
    const last = reads.at(-1)!;
    assert.ok(last.kind === "ok");
    assert.equal(last.values["KITE_API_KEY"], "k");
    assert.ok(last.text.startsWith("\uFEFF"));
  });
});

Deno.test("watchEnvFile() ignores other files in the directory and unchanged rewrites", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.token(token(1));
    await Deno.writeTextFile(`${dir}/other.txt`, `KITE_ACCESS_TOKEN=${token(7)}\n`);
    await Deno.writeTextFile(`${dir}/.env.example`, `KITE_ACCESS_TOKEN=${token(8)}\n`);
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    // Had any of the above been reported, it would come first.
    assert.equal(tokenOf(await log.one()), token(2));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n` });
});

Deno.test("watchEnvFile() keeps watching after its directory is removed and re-created", async () => {
  await withWatcher(async ({ dir, path, log }) => {
    await log.token(token(1));
    await Deno.remove(dir, { recursive: true });
    await log.next((read) => read.kind === "missing", "missing");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await log.token(token(2));
    await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(3)}\n`);
    await log.token(token(3));
  }, { initial: `KITE_ACCESS_TOKEN=${token(1)}\n`, retryMs: 20 });
});

Deno.test("watchEnvFile() closes on abort, and close() is idempotent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_watch_" });
  try {
    const log = recorder();
    const controller = new AbortController();
    const watcher = watchEnvFile(`${dir}/.env`, { onRead: log.onRead, signal: controller.signal });
    await log.one();
    controller.abort();
    await watcher.close();
    await watcher.close();
    const count = log.reads.length;
    await Deno.writeTextFile(`${dir}/.env`, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    // The sanitizers check no watch or timer is left; nothing can report after close().
    assert.equal(log.reads.length, count);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Timers that fire only when told: `untilArmed(n)` waits until `n` are pending. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  let armed: (() => void) | undefined;
  let nextId = 1;
  return {
    pending,
    timers: {
      setTimeout(fn: () => void, _ms: number): number {
        const id = nextId++;
        pending.set(id, fn);
        armed?.();
        return id;
      },
      clearTimeout(id: number): void {
        pending.delete(id);
      },
      now: () => 0,
    },
    /** Fires the timers pending now (the first `count` of them, all by default). */
    fire(count = Infinity): void {
      const due = [...pending].slice(0, count);
      for (const [id] of due) pending.delete(id);
      for (const [, fn] of due) fn();
    },
    async untilArmed(count = 1): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        while (pending.size < count) {
          await new Promise<void>((resolve, reject) => {
            armed = resolve;
            timer = setTimeout(() => reject(new Error("No timer was set")), TIMEOUT_MS);
          });
          clearTimeout(timer);
        }
      } finally {
        armed = undefined;
        clearTimeout(timer);
      }
    },
  };
}

Deno.test("watchEnvFile() reads only when its (injected) debounce timer fires", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_watch_" });
  const manual = manualTimers();
  const log = recorder();
  // No poll: every timer armed here is the debounce.
  const watcher = watchEnvFile(`${dir}/.env`, {
    onRead: log.onRead,
    timers: manual.timers,
    pollMs: 0,
  });
  try {
    await manual.untilArmed();
    assert.equal(log.reads.length, 0);
    manual.fire();
    assert.deepEqual(await log.one(), { kind: "missing" });
    await Deno.writeTextFile(`${dir}/.env`, `KITE_ACCESS_TOKEN=${token(1)}\n`);
    await manual.untilArmed();
    assert.equal(log.reads.length, 1);
    manual.fire();
    await log.token(token(1));
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchEnvFile() polls rarely while the watch hears, every pollMs once a pipe is at the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_watch_" });
  const path = `${dir}/.env`;
  await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(1)}\n`);
  const clock = new FakeClock(0);
  const log = recorder();
  /** Fires what is due now until `done()`, waiting on the real file system in between. */
  async function until(done: () => boolean, label: string): Promise<void> {
    const deadline = performance.now() + TIMEOUT_MS;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`Timed out waiting for ${label}`);
      clock.tick(0);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  const watcher = watchEnvFile(path, {
    onRead: log.onRead,
    timers: clock,
    pollMs: 1000,
    guardPollMs: 10_000,
  });
  try {
    await until(() => log.reads.length === 1 && clock.nextDue === 10_000, "the first read");
    assert.equal(clock.pending, 1, "one timer while the watch hears: the guard poll");

    // Deno's watch reports nothing for a pipe renamed into place, nor anything after it.
    await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    await Deno.rename(`${dir}/fifo`, path);
    clock.tick(9_999);
    assert.equal(log.reads.length, 1, "nothing is read before the guard poll");
    clock.tick(1);
    await until(() => log.reads.length === 2 && clock.nextDue === 11_000, "the pipe noted");
    assert.deepEqual(log.reads[1], {
      kind: "unreadable",
      detail: "a named pipe (FIFO), not a regular file",
    });

    // While the pipe holds the watch, a regular file put back is found by the 1 s poll.
    await Deno.writeTextFile(`${dir}/next`, `KITE_ACCESS_TOKEN=${token(2)}\n`);
    await Deno.rename(`${dir}/next`, path);
    clock.tick(1000);
    await until(() => log.reads.length === 3, "the regular file read");
    assert.equal(tokenOf(log.reads[2]!), token(2));
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchEnvFile() reads a rename-save once: its second event leaves no read pending", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_watch_" });
  const path = `${dir}/.env`;
  await Deno.writeTextFile(path, `KITE_ACCESS_TOKEN=${token(1)}\n`);
  const manual = manualTimers();
  const log = recorder();
  const watcher = watchEnvFile(path, { onRead: log.onRead, timers: manual.timers, pollMs: 0 });
  try {
    await manual.untilArmed();
    manual.fire();
    await log.token(token(1));
    await writeToken(path, token(2));
    // The rename is reported by the new name and by both: the read for the first (its timer
    // armed first) and the debounce for the second.
    await manual.untilArmed(2);
    manual.fire(1);
    await log.token(token(2));
    assert.equal(manual.pending.size, 0, "the read covered the second event");
  } finally {
    await watcher.close();
    await Deno.remove(dir, { recursive: true });
  }
});
