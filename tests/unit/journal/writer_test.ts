import assert from "node:assert/strict";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { BLOCK_HEADER_BYTES, FILE_HEADER } from "../../../src/journal/block.ts";
import { istMidnight, journalFileName } from "../../../src/journal/journal_day.ts";
import { type JournalEnd, readJournal, readJournalBlocks } from "../../../src/journal/reader.ts";
import type { JournalRecord } from "../../../src/journal/record.ts";
import { createJournalWriter, type JournalWriterOptions } from "../../../src/journal/writer.ts";
import { recordOf } from "../../_support/journal_writer_child.ts";
import { listDir, withTempDir } from "../../_support/temp_dir.ts";

const DATE = "2026-12-02";
const NOON_MS = istMidnight(DATE) + 12 * 3_600_000;

function quiet(): { options: Pick<JournalWriterOptions, "log">; lines: string[] } {
  const lines: string[] = [];
  return { options: { log: (level, message) => lines.push(`${level} ${message}`) }, lines };
}

async function readAll(path: string): Promise<{ records: JournalRecord[]; end: JournalEnd }> {
  const records: JournalRecord[] = [];
  let end: JournalEnd | undefined;
  for await (const record of readJournal(path, { onEnd: (e) => end = e })) records.push(record);
  return { records, end: end! };
}

/** Writes records `from`..`to`-1, one block per `perBlock`, and closes. */
async function writeRecords(
  dir: string,
  options: { from: number; to: number; perBlock: number; codec?: "none" | "deflate" },
): Promise<void> {
  const clock = new FakeClock(NOON_MS);
  await using journal = await createJournalWriter(dir, {
    clock,
    ...quiet().options,
    codec: options.codec ?? "deflate",
  });
  for (let n = options.from; n < options.to; n++) {
    journal.append(recordOf(n));
    if ((n - options.from + 1) % options.perBlock === 0) await journal.flush();
  }
}

Deno.test("journal: every kind of record reads back as written, stored or deflated", async () => {
  for (const codec of ["none", "deflate"] as const) {
    await withTempDir("kitekeeper_journal_", async (dir) => {
      await writeRecords(dir, { from: 0, to: 400, perBlock: 50, codec });
      const { records, end } = await readAll(`${dir}/${journalFileName(DATE)}`);
      assert.equal(end.kind, "complete");
      assert.deepEqual(records, Array.from({ length: 400 }, (_, n) => recordOf(n)));
      assert.ok(
        records.some((r) => r.kind === "lifecycle") && records.some((r) => r.kind === "gap"),
      );
    });
  }
});

Deno.test("journal: flushes on its own within flushMs, and never before the first record", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    const clock = new FakeClock(NOON_MS);
    await using journal = await createJournalWriter(dir, { clock, ...quiet().options });
    assert.equal(clock.pending, 0);
    journal.append(recordOf(1));
    journal.append(recordOf(2));
    assert.equal(clock.nextDue, NOON_MS + 1000);
    clock.tick(999);
    assert.equal(journal.status().writes_total, 0);
    clock.tick(1);
    await journal.flush(); // Waits for the write the timer started.
    const { records } = await readAll(`${dir}/${journalFileName(DATE)}`);
    assert.deepEqual(records, [recordOf(1), recordOf(2)]);
    assert.equal(journal.status().records_total, 2);
  });
});

Deno.test("journal: a torn tail cut at any byte is found, cut off on reopening, nothing before it", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    const path = `${dir}/${journalFileName(DATE)}`;
    await writeRecords(dir, { from: 0, to: 30, perBlock: 10, codec: "none" });
    const whole = await Deno.readFile(path);
    const offsets: number[] = [];
    for await (const block of readJournalBlocks(path)) offsets.push(block.offset);
    assert.equal(offsets.length, 3);
    const lastStart = offsets[2]!;
    // Every cut inside the last block, plus zeros and garbage where its bytes should be.
    const tails: Uint8Array[] = [];
    const cuts = new Set<number>();
    for (let cut = lastStart + 1; cut <= lastStart + 40; cut++) cuts.add(cut); // the header
    for (let cut = lastStart + 41; cut < whole.length; cut += 97) cuts.add(cut);
    cuts.add(whole.length - 1);
    for (const cut of cuts) tails.push(whole.slice(0, cut));
    tails.push(new Uint8Array([...whole.slice(0, lastStart), ...new Uint8Array(4096)]));
    const flipped = whole.slice();
    flipped[whole.length - 3]! ^= 0x40;
    tails.push(flipped);
    for (const [i, bytes] of tails.entries()) {
      await Deno.writeFile(path, bytes);
      const torn = await readAll(path);
      assert.equal(torn.end.kind, "torn", `tail ${i}`);
      assert.equal(torn.end.offset, lastStart, `tail ${i}`);
      assert.deepEqual(torn.records, Array.from({ length: 20 }, (_, n) => recordOf(n)));
      // The writer cuts the tail off and appends after the last whole block.
      await writeRecords(dir, { from: 20, to: 25, perBlock: 5 });
      const healed = await readAll(path);
      assert.equal(healed.end.kind, "complete", `tail ${i}`);
      assert.deepEqual(healed.records, Array.from({ length: 25 }, (_, n) => recordOf(n)));
    }
  });
});

Deno.test("journal: a cut inside the file header or block header is torn, not foreign", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    const path = `${dir}/${journalFileName(DATE)}`;
    await writeRecords(dir, { from: 0, to: 10, perBlock: 10 });
    const whole = await Deno.readFile(path);
    await Deno.writeFile(path, whole.slice(0, FILE_HEADER.length + BLOCK_HEADER_BYTES - 1));
    const { records, end } = await readAll(path);
    assert.deepEqual(records, []);
    assert.deepEqual(end.kind, "torn");
    assert.equal(end.offset, FILE_HEADER.length);
  });
});

Deno.test("journal: a foreign file is read as nothing, and the writer stops without touching it", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    const path = `${dir}/${journalFileName(DATE)}`;
    const foreign = new TextEncoder().encode("time,price\n1,2\n");
    await Deno.writeFile(path, foreign);
    assert.equal((await readAll(path)).end.kind, "foreign");
    const problems: string[] = [];
    const { options, lines } = quiet();
    await using journal = await createJournalWriter(dir, {
      clock: new FakeClock(NOON_MS),
      ...options,
      onProblem: (problem) => problems.push(problem),
    });
    journal.append(recordOf(1));
    await journal.flush();
    journal.append(recordOf(2));
    assert.deepEqual(await Deno.readFile(path), foreign);
    const status = journal.status();
    assert.equal(status.state, "stopped");
    assert.match(status.problem ?? "", /is not a kitekeeper journal; it was left untouched/);
    assert.deepEqual(problems, [status.problem]);
    assert.equal(status.dropped_total, 1);
    assert.ok(lines.some((line) => line.startsWith("error Journal stopped, the feed goes on")));
  });
});

Deno.test("journal: a directory it cannot create or write stops journaling, loudly, without throwing", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "x");
    const problems: string[] = [];
    await using blocked = await createJournalWriter(`${dir}/file/journal`, {
      clock: new FakeClock(NOON_MS),
      ...quiet().options,
      onProblem: (problem) => problems.push(problem),
    });
    blocked.append(recordOf(1));
    assert.equal(blocked.status().state, "stopped");
    assert.match(problems[0] ?? "", /^Failed to open journal directory .*file\/journal: /);

    // Removed under a running writer: the next write fails, journaling stops, nothing throws.
    const gone = `${dir}/gone`;
    await using journal = await createJournalWriter(gone, {
      clock: new FakeClock(NOON_MS),
      ...quiet().options,
    });
    await Deno.remove(gone, { recursive: true });
    journal.append(recordOf(1));
    await journal.flush();
    assert.match(journal.status().problem ?? "", /^Failed to write journal .*gone: ENOENT/);
  });
});

Deno.test("journal: a backlog past maxPendingBytes stops journaling instead of growing", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    const clock = new FakeClock(NOON_MS);
    await using journal = await createJournalWriter(dir, {
      clock,
      ...quiet().options,
      maxPendingBytes: 10_000,
    });
    for (let n = 1; n < 100; n++) journal.append(recordOf(n));
    assert.match(journal.status().problem ?? "", /cannot keep up: \d+ bytes waiting/);
    assert.ok(journal.status().dropped_total > 0);
  });
});

Deno.test("journal: one file per IST date, and retention keeps the last keepDays dates only", async () => {
  await withTempDir("kitekeeper_journal_", async (dir) => {
    for (const date of ["2026-11-27", "2026-11-30"]) {
      await Deno.writeFile(`${dir}/${journalFileName(date)}`, FILE_HEADER);
    }
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    const beforeMidnight = istMidnight("2026-12-02") - 1;
    const clock = new FakeClock(beforeMidnight - 60_000);
    const { options, lines } = quiet();
    await using journal = await createJournalWriter(dir, { clock, ...options, keepDays: 3 });
    // 2026-12-01 is today: 11-30 is kept (3 dates: 11-29..12-01), 11-27 goes.
    assert.deepEqual(await listDir(dir), ["2026-11-30.kkj", "notes.txt"]);
    assert.ok(lines.some((line) => line.includes("also holds notes.txt")));
    const late = {
      kind: "message",
      at_us: beforeMidnight * 1000,
      shard: 0,
      bytes: new Uint8Array([1]),
    } as const;
    const early = { ...late, at_us: (beforeMidnight + 2) * 1000, bytes: new Uint8Array([2]) };
    journal.append(late);
    journal.append(early);
    await journal.flush();
    // Rolling to 12-02 keeps 11-30..12-02.
    assert.deepEqual(await listDir(dir), [
      "2026-11-30.kkj",
      "2026-12-01.kkj",
      "2026-12-02.kkj",
      "notes.txt",
    ]);
    assert.deepEqual((await readAll(`${dir}/2026-12-01.kkj`)).records, [late]);
    assert.deepEqual((await readAll(`${dir}/2026-12-02.kkj`)).records, [early]);
  });
});
