import assert from "node:assert/strict";
import { journalFileName } from "../../src/journal/journal_day.ts";
import { type JournalEnd, readJournal } from "../../src/journal/reader.ts";
import type { JournalRecord } from "../../src/journal/record.ts";
import { CRASH_DATE, recordOf } from "../_support/journal_writer_child.ts";
import { LineReader } from "../_support/lines.ts";
import { withTempDir } from "../_support/temp_dir.ts";
import { seededRandom, spin } from "../_support/kill_timing.ts";

const CHILD = new URL("../_support/journal_writer_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
/** Children killed: each at a random moment of its writing. */
const KILLS = 200;
/** A child is killed after one of its first this-many flushes... */
const MAX_FLUSHES_PER_CHILD = 4;
/** ...this many microseconds after it announced that flush. */
const MAX_KILL_DELAY_US = 3000;

function sameRecord(actual: JournalRecord, expected: JournalRecord): boolean {
  if (actual.kind !== expected.kind || actual.at_us !== expected.at_us) return false;
  if (actual.shard !== expected.shard) return false;
  if (actual.kind === "message" && expected.kind === "message") {
    const a = actual.bytes;
    const b = expected.bytes;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

/** Reads the journal file whole, checking record i is `recordOf(i)`; returns the count. */
async function verifiedCount(
  path: string,
  context: string,
): Promise<{ n: number; end: JournalEnd }> {
  let n = 0;
  let end: JournalEnd | undefined;
  for await (const record of readJournal(path, { onEnd: (e) => end = e })) {
    assert.ok(sameRecord(record, recordOf(n)), `${context}: record ${n} differs`);
    n++;
  }
  assert.ok(end !== undefined && end.kind !== "foreign", `${context}: ${JSON.stringify(end)}`);
  return { n, end };
}

/** The writer child over `dir`, from record `first`, for `count` records. */
function writerChild(
  dir: string,
  options: { first: number; count: number; seed: number; codec: string },
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${CONFIG}`,
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      CHILD,
      dir,
      String(options.first),
      String(options.count),
      String(options.seed),
      options.codec,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Starts a writer child at record `first`; kills it after flush `killAfter` + `delayUs`. */
async function killedRound(
  dir: string,
  options: { first: number; killAfter: number; delayUs: number; seed: number; codec: string },
): Promise<number> {
  const { seed, codec } = options;
  const child = writerChild(dir, { first: options.first, count: 10_000_000, seed, codec }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = new LineReader(child.stdout);
  let flushed = options.first;
  try {
    await lines.until(/^ready$/);
    for (let i = 0; i < options.killAfter; i++) {
      flushed = Number((await lines.until(/^flushed (\d+)$/))[1]);
    }
    spin(options.delayUs);
  } finally {
    child.kill("SIGKILL");
  }
  const status = await child.status;
  const errors = await stderr;
  // Lines already printed before the kill count too: those flushes had finished.
  for (const line of lines.seen) {
    const match = /^flushed (\d+)$/.exec(line);
    if (match !== null) flushed = Math.max(flushed, Number(match[1]));
  }
  assert.equal(status.signal, "SIGKILL", `the writer ended on its own: ${errors}`);
  assert.ok(!/error/.test(errors), `the writer reported: ${errors}`);
  return flushed;
}

Deno.test({
  name: "journal writer survives 200 SIGKILLs at random points: every flushed record reads back",
  async fn() {
    const seed = crypto.getRandomValues(new Uint32Array(1))[0] ?? 1;
    const random = seededRandom(seed);
    await withTempDir("kitekeeper_journal_crash_", async (dir) => {
      const path = `${dir}/${journalFileName(CRASH_DATE)}`;
      let verified = 0;
      let torn = 0;
      for (let kill = 0; kill < KILLS; kill++) {
        const killAfter = Math.floor(random() * (MAX_FLUSHES_PER_CHILD + 1));
        const delayUs = Math.floor(random() * MAX_KILL_DELAY_US);
        const codec = random() < 0.5 ? "none" : "deflate";
        const context = `seed ${seed}, kill ${kill} after flush ${killAfter} +${delayUs} µs`;
        const flushed = await killedRound(dir, {
          first: verified,
          killAfter,
          delayUs,
          seed: Math.floor(random() * 2 ** 32),
          codec,
        });
        const { n, end } = await verifiedCount(path, context).catch((error: unknown) => {
          // A kill before the first flush may leave no file, or a header cut short.
          if (verified === 0 && error instanceof Deno.errors.NotFound) {
            return { n: 0, end: { kind: "complete", offset: 0 } as JournalEnd };
          }
          throw error;
        });
        assert.ok(n >= flushed, `${context}: ${n} records read, ${flushed} were flushed`);
        assert.ok(n >= verified, `${context}: ${n} records read, ${verified} before`);
        if (end.kind === "torn") torn++;
        verified = n;
      }
      // A last child opens the file (cutting any torn tail), appends and closes cleanly.
      const final = writerChild(dir, { first: verified, count: 100, seed: 1, codec: "deflate" });
      const output = await final.output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      const { n, end } = await verifiedCount(path, `seed ${seed}, final`);
      assert.equal(n, verified + 100);
      assert.equal(end.kind, "complete");
      assert.ok(verified > KILLS, `seed ${seed}: only ${verified} records were written`);
      console.log(`${KILLS} kills, ${verified} records, ${torn} torn tails seen (seed ${seed})`);
    });
  },
});
