import assert from "node:assert/strict";
import { readToken } from "../../src/token/read_token.ts";
import { parseEnv, writeToken } from "../../src/token/env_file.ts";
import { tokenOf } from "../_support/env_writer_child.ts";
import { listDir } from "../_support/temp_dir.ts";
import { seededRandom, spin } from "../_support/kill_timing.ts";

const CHILD = new URL("../_support/env_writer_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
/** Token writes the crash test covers, across every child it kills. */
const WRITES = 1000;
/** A child is killed during one of its first this-many writes. */
const MAX_WRITES_PER_CHILD = 60;
/** ...this many microseconds after it announced that write (a write takes ~1–3 ms). */
const MAX_KILL_DELAY_US = 4000;
const TOKEN_PATTERN = /^[A-Za-z0-9]{32}$/;
const TEMP_NAME = /^\.env\.tmp-[0-9a-f]{12}$/;
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The whole `.env` holding `token`: CRLF and LF lines, comments, `export`, no final newline. */
function envText(token: string): string {
  return [
    "# kitekeeper settings\r\n",
    "export KITE_API_KEY=abc123\r\n",
    "KITE_API_SECRET='s3cr3t value' # quoted\n",
    "\r\n",
    "# KITE_ACCESS_TOKEN=commented-out\r\n",
    `export KITE_ACCESS_TOKEN="${token}" # rotated daily\r\n`,
    "KITEKEEPER_MODE=full\n",
    "KITEKEEPER_INSTRUMENTS=256265,408065",
  ].join("");
}

const OTHER_VALUES = Object.freeze({
  KITE_API_KEY: "abc123",
  KITE_API_SECRET: "s3cr3t value",
  KITEKEEPER_MODE: "full",
  KITEKEEPER_INSTRUMENTS: "256265,408065",
});

/**
 * The write number whose token `text` holds, after checking that `text` is exactly the
 * template around it (so every other byte is intact) and that it reads as a valid token.
 */
function writeNumberIn(text: string, context: string): number {
  const values = parseEnv(text);
  const read = readToken(values, TOKEN_PATTERN);
  assert.equal(read.kind, "valid", `${context}: token not valid in ${JSON.stringify(text)}`);
  const { KITE_ACCESS_TOKEN: token, ...others } = values;
  assert.deepEqual(others, OTHER_VALUES, context);
  const n = Number(/^Tok(\d{29})$/.exec(token ?? "")?.[1]);
  assert.ok(Number.isInteger(n), `${context}: not a written token`);
  assert.equal(text, envText(tokenOf(n)), `${context}: bytes besides the token changed`);
  return n;
}

/** Lines of a child's stdout, read one at a time. */
class LineReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or null at end of file. */
  async next(): Promise<string | null> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return line;
      }
      if (this.#done) return null;
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }
}

async function tempFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name === ".env") continue;
    assert.match(entry.name, TEMP_NAME, "only the .env and its temp files are in the directory");
    names.push(entry.name);
  }
  return names.sort();
}

/**
 * Reads the file in a loop until `stop()`, checking each read is one whole written file and
 * that the write number never goes back. Resolves with the reads done and the highest seen.
 */
function readContinuously(path: string, from: number) {
  let running = true;
  const done = (async () => {
    let last = from;
    let reads = 0;
    while (running) {
      const n = writeNumberIn(decoder.decode(await Deno.readFile(path)), `read ${reads}`);
      assert.ok(n >= last, `a reader saw write ${n} after write ${last}`);
      last = n;
      reads++;
    }
    return { reads, highest: last };
  })();
  // Held until stop(): a failed read must fail the test there, not as an unhandled rejection.
  const settled = done.then(
    (result) => ({ ok: true, result } as const),
    (error: unknown) => ({ ok: false, error } as const),
  );
  return {
    async stop(): Promise<{ reads: number; highest: number }> {
      running = false;
      const outcome = await settled;
      if (!outcome.ok) throw outcome.error;
      return outcome.result;
    },
  };
}

interface Round {
  /** Announced write numbers (`about N`), in order. */
  readonly about: number[];
  /** Finished write numbers (`done N`), in order. */
  readonly done: number[];
  readonly reads: number;
  readonly highestRead: number;
}

/** Starts a writer child at write `first`, kills it during write `killAt`, and reports. */
async function killedRound(
  path: string,
  options: { first: number; killAt: number; delayUs: number; current: number },
): Promise<Round> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG}`,
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      CHILD,
      path,
      String(options.first),
      String(WRITES * 10),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = new LineReader(child.stdout);
  const reader = readContinuously(path, options.current);
  const about: number[] = [];
  const done: number[] = [];
  const record = (line: string) => {
    const [word, number] = line.split(" ");
    if (word === "about") about.push(Number(number));
    else if (word === "done") done.push(Number(number));
    else throw new Error(`Unexpected line from the writer: ${line}`);
  };
  let failure: unknown = undefined;
  try {
    for (let line = await lines.next(); line !== null; line = await lines.next()) {
      record(line);
      if (line === `about ${options.killAt}`) {
        spin(options.delayUs);
        child.kill("SIGKILL");
        break;
      }
    }
    for (let line = await lines.next(); line !== null; line = await lines.next()) record(line);
  } catch (error: unknown) {
    failure = error;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  const status = await child.status;
  const errors = await stderr;
  const { reads, highest } = await reader.stop();
  if (failure !== undefined) throw failure;
  assert.equal(status.signal, "SIGKILL", `the writer ended on its own: ${errors}`);
  return { about, done, reads, highestRead: highest };
}

Deno.test({
  name:
    "writeToken() survives SIGKILL at random points of 1000 writes, and readers never see a torn file",
  async fn() {
    const seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 1;
    const random = seededRandom(seed);
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_crash_" });
    const path = `${dir}/.env`;
    try {
      await Deno.writeTextFile(path, envText(tokenOf(0)));
      let current = 0;
      let next = 1;
      let attempted = 0;
      let reads = 0;
      let rounds = 0;
      /** Write numbers a kill interrupted (announced, not finished): each may leave a temp. */
      const interrupted: number[] = [];
      while (attempted < WRITES) {
        const killAt = next + Math.floor(random() * MAX_WRITES_PER_CHILD);
        const delayUs = Math.floor(random() * MAX_KILL_DELAY_US);
        const context = `seed ${seed}, round ${rounds}, kill during write ${killAt} +${delayUs} µs`;
        const round = await killedRound(path, { first: next, killAt, delayUs, current });
        rounds++;
        reads += round.reads;
        const lastAbout = round.about.at(-1);
        assert.ok(lastAbout !== undefined && lastAbout >= killAt, `${context}: killed too early`);
        const lastDone = round.done.at(-1) ?? current;
        attempted += round.about.length;

        const n = writeNumberIn(decoder.decode(await Deno.readFile(path)), context);
        const allowed = lastAbout > lastDone ? [lastDone, lastAbout] : [lastDone];
        assert.ok(allowed.includes(n), `${context}: the file holds write ${n}, not ${allowed}`);
        assert.ok(round.highestRead <= n, `${context}: a reader saw write ${round.highestRead}`);
        if (lastAbout > lastDone) interrupted.push(lastAbout);

        // A kill between creating a temp file and renaming it leaves it: one at most a kill,
        // private, holding a prefix of the file that write was making.
        const temps = await tempFiles(dir);
        assert.ok(temps.length <= interrupted.length, `${context}: ${temps.length} temp files`);
        for (const name of temps) {
          const info = await Deno.stat(`${dir}/${name}`);
          assert.equal((info.mode ?? 0) & 0o077, 0, `${context}: ${name} is not private`);
          const text = decoder.decode(await Deno.readFile(`${dir}/${name}`));
          assert.ok(
            interrupted.some((k) => envText(tokenOf(k)).startsWith(text)),
            `${context}: ${name} holds something no interrupted write was writing`,
          );
        }
        current = n;
        next = lastAbout + 1;
      }
      assert.ok(reads > rounds, `the reader ran (${reads} reads in ${rounds} rounds)`);
      assert.ok(interrupted.length > 0, `seed ${seed}: no kill landed inside a write`);

      // The leftovers are young, so the writes above kept them; once stale, a write sweeps them.
      const leftovers = await tempFiles(dir);
      const longAgo = new Date(Date.now() - 10 * 60_000);
      for (const name of leftovers) await Deno.utime(`${dir}/${name}`, longAgo, longAgo);
      assert.equal(await writeToken(path, tokenOf(next)), "written");
      assert.equal(await Deno.readTextFile(path), envText(tokenOf(next)));
      assert.deepEqual(await tempFiles(dir), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writeToken() sweeps only its own temp files, and only once they are stale", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_sweep_" });
  try {
    const path = `${dir}/.env`;
    await Deno.writeTextFile(path, envText(tokenOf(0)));
    const longAgo = new Date(Date.now() - 10 * 60_000);
    const stale = [".env.tmp-0123456789ab", ".env.tmp-ffffffffffff"];
    const kept = [
      ".env.tmp-aaaaaaaaaaaa", // young: maybe another writer's, mid-write
      ".env.tmp-notours", // not the writer's pattern
      "other.env.tmp-0123456789ab", // another file's temp
      ".env.tmp-0123456789abc", // one digit too many
      ".env.bak",
    ];
    for (const name of [...stale, ...kept]) await Deno.writeTextFile(`${dir}/${name}`, "x");
    for (const name of [...stale, ...kept.slice(1)]) {
      await Deno.utime(`${dir}/${name}`, longAgo, longAgo);
    }
    await Deno.mkdir(`${dir}/.env.tmp-dddddddddddd`); // a stale directory of the same name
    await Deno.utime(`${dir}/.env.tmp-dddddddddddd`, longAgo, longAgo);

    // "unchanged" touches nothing, the sweep included.
    assert.equal(await writeToken(path, tokenOf(0)), "unchanged");
    assert.equal((await listDir(dir)).length, stale.length + kept.length + 2);

    assert.equal(await writeToken(path, tokenOf(1)), "written");
    assert.deepEqual(await listDir(dir), [".env", ...kept, ".env.tmp-dddddddddddd"].sort());
    assert.equal(await Deno.readTextFile(path), envText(tokenOf(1)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
