/**
 * A child process for `journal_crash_test.ts`: appends numbered records to a journal with the
 * daemon's own writer, in batches of random size, announcing after each flush how many
 * records are written (`flushed N`), until it is killed or has written `count` records.
 *
 * Usage: `deno run --allow-read --allow-write tests/_support/journal_writer_child.ts
 *   DIR FIRST COUNT SEED none|deflate`
 *
 * @module
 */
import { systemClock } from "../../src/clock.ts";
import { istMidnight } from "../../src/journal/journal_day.ts";
import type { JournalRecord } from "../../src/journal/record.ts";
import { createJournalWriter } from "../../src/journal/writer.ts";
import { say } from "./kill_timing.ts";

/** The IST date every record of the crash test falls on. */
export const CRASH_DATE = "2026-12-02";
const BASE_US = (istMidnight(CRASH_DATE) + 10 * 3_600_000) * 1000;

/** Record number `n`: its content follows from `n` alone, so a reader can check every byte. */
export function recordOf(n: number): JournalRecord {
  const at_us = BASE_US + n * 250;
  const shard = n % 3;
  if (n % 97 === 0) {
    return {
      kind: "lifecycle",
      at_us,
      shard: 0,
      change: {
        state: n % 2 === 0 ? "Live" : "Reconnecting",
        since: n,
        fingerprint: n.toString(16).padStart(12, "0"),
        reason: n % 2 === 0 ? null : `record ${n}`,
        subscriptions: [{ shard: 0, mode: "full", tokens: [256265, n] }],
      },
    };
  }
  if (n % 89 === 0) {
    return { kind: "gap", at_us, shard, gap: { shard, start: n, end: n + 5000, cause: "silent" } };
  }
  // 1 byte (a heartbeat's size) to 1 KB (five full packets).
  const length = 1 + ((n * 2_654_435_761) >>> 0) % 1024;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (n * 31 + i * 7 + (i >> 5)) & 0xff;
  return { kind: "message", at_us, shard, bytes };
}

async function main(args: readonly string[]): Promise<void> {
  const [dir, firstText, countText, seedText, codec] = args;
  const first = Number(firstText);
  const count = Number(countText);
  let seed = Number(seedText) >>> 0;
  if (
    dir === undefined || !Number.isInteger(first) || !Number.isInteger(count) ||
    (codec !== "none" && codec !== "deflate")
  ) {
    throw new TypeError("Usage: journal_writer_child.ts DIR FIRST COUNT SEED none|deflate");
  }
  const random = () => {
    seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
    return seed / 4_294_967_296;
  };
  const journal = await createJournalWriter(dir, {
    clock: systemClock(),
    log: (level, message) => console.error(`${level} ${message}`),
    codec,
    fsyncMs: 60_000,
  });
  say("ready");
  let n = first;
  while (n < first + count) {
    // Mostly small batches, sometimes a large one, so that a kill can land inside a write.
    const batch = random() < 0.05
      ? 100 + Math.floor(random() * 400)
      : 1 + Math.floor(random() * 40);
    for (const end = Math.min(n + batch, first + count); n < end; n++) journal.append(recordOf(n));
    await journal.flush();
    if (journal.status().problem !== null) throw new Error(journal.status().problem ?? "");
    say(`flushed ${n}`);
  }
  await journal.close();
  say("closed");
}

if (import.meta.main) await main(Deno.args);
