/**
 * The journal writer: takes records from the feed without ever making it wait, and appends
 * them to one file per IST day in checksummed blocks.
 *
 * - `append()` only encodes the record into memory. A block is written at most `flushMs`
 *   (1 s) after the first record waiting, or at once when 4 MiB are waiting. Writes are
 *   asynchronous and one at a time; the feed never awaits them.
 * - fsync (`syncData`) at most every `fsyncMs` (default 5 s), and when a day's file is closed.
 *   A killed process loses nothing it wrote (the kernel keeps it); a power cut loses at most
 *   the last `fsyncMs`. A process killed before a flush loses at most `flushMs` of records.
 * - On opening a day's file that exists, its torn tail (a block cut short by a crash) is
 *   truncated, never anything before it; a file that is not a journal is left untouched and
 *   journaling stops.
 * - Any write error (a full disk, a removed directory, permissions) or a backlog past
 *   `maxPendingBytes` stops journaling: `status().problem` says why, `onProblem` is called
 *   once, later records are counted as dropped. The feed goes on; a restart resumes.
 * - Retention: with `keepDays` N, files of days older than the last N IST dates are removed
 *   when the writer starts and each time it rolls to a new day.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
import { type BlockCodec, encodeBlock, FILE_HEADER } from "./block.ts";
import { istDate } from "../market/ist_time.ts";
import { istMidnight, journalFileName, listJournal } from "./journal_day.ts";
import { describeEnd, type JournalEnd, readJournalBlocks } from "./reader.ts";
import { encodedRecord, type JournalRecord } from "./record.ts";

/** Options of {@linkcode createJournalWriter}. */
export interface JournalWriterOptions {
  /** Timers for the flush schedule, and "now" for retention and fsync pacing. */
  readonly clock: Clock;
  readonly log: Logger;
  /** Keep this many IST dates (today included); default: keep every file. */
  readonly keepDays?: number;
  /** A record waits at most this long before it is written; default 1000. */
  readonly flushMs?: number;
  /** fsync at most this often; default 5000 (0: after every block). */
  readonly fsyncMs?: number;
  /** `deflate` (default) compresses a block when that makes it smaller. */
  readonly codec?: BlockCodec;
  /** Past this many bytes waiting to be written, journaling stops; default 64 MiB. */
  readonly maxPendingBytes?: number;
  /** Called once when journaling stops on a problem. */
  readonly onProblem?: (problem: string) => void;
}

/** What `/status` and metrics say of the journal. */
export interface JournalStatus {
  /** `writing`, or `stopped` after a problem (until a restart). */
  readonly state: "writing" | "stopped";
  readonly dir: string;
  /** The file being appended to, once one is open. */
  readonly file: string | null;
  readonly problem: string | null;
  readonly records_total: number;
  /** Bytes appended to files (blocks, after compression). */
  readonly bytes_total: number;
  /** Bytes of records before framing and compression. */
  readonly record_bytes_total: number;
  readonly writes_total: number;
  readonly fsyncs_total: number;
  /** Records not journaled because journaling had stopped. */
  readonly dropped_total: number;
  /** Bytes of torn tails cut off files at opening. */
  readonly truncated_bytes_total: number;
}

/** The journal writer. */
export interface JournalWriter extends AsyncDisposable {
  /** Queues `record`; never throws, never waits. */
  append(record: JournalRecord): void;
  status(): JournalStatus;
  /** Writes every record queued so far; resolves once written (or journaling stopped). */
  flush(): Promise<void>;
  /** Flushes, fsyncs and closes the file; later records are dropped. */
  close(): Promise<void>;
}

interface Pending {
  readonly date: string;
  readonly firstAtUs: number;
  readonly parts: Uint8Array[];
  bytes: number;
}

interface OpenFile {
  readonly date: string;
  readonly path: string;
  readonly file: Deno.FsFile;
  dirty: boolean;
}

const BLOCK_TARGET_BYTES = 4 * 1024 * 1024;
const DAY_MS = 86_400_000;

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return `ENOENT: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function concat(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<number> {
  let written = 0;
  let calls = 0;
  while (written < bytes.length) {
    written += await file.write(bytes.subarray(written));
    calls++;
  }
  return calls;
}

/**
 * Where the valid part of the journal file at `path` ends: its torn tail starts there.
 *
 * @throws {Deno.errors.NotFound} when there is no such file
 */
export async function scanJournal(path: string): Promise<JournalEnd> {
  let end: JournalEnd | undefined;
  for await (const _ of readJournalBlocks(path, { records: false, onEnd: (e) => end = e })) {
    // Framing and checksums only: nothing to do with the blocks.
  }
  return end!;
}

/**
 * Starts a journal writer into `dir` (created when missing). It never throws for the feed's
 * sake: a directory it cannot use stops journaling with a problem, as a write error would.
 *
 * @example
 * ```ts
 * const journal = await createJournalWriter("/var/lib/kitekeeper/journal", { clock, log });
 * journal.append({ kind: "message", at_us: Date.now() * 1000, shard: 0, bytes });
 * ```
 */
export async function createJournalWriter(
  dir: string,
  options: JournalWriterOptions,
): Promise<JournalWriter> {
  const { clock, log } = options;
  const flushMs = options.flushMs ?? 1_000;
  const fsyncMs = options.fsyncMs ?? 5_000;
  const codec = options.codec ?? "deflate";
  const maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
  const counts = {
    records_total: 0,
    bytes_total: 0,
    record_bytes_total: 0,
    writes_total: 0,
    fsyncs_total: 0,
    dropped_total: 0,
    truncated_bytes_total: 0,
  };
  let problem: string | null = null;
  let closed = false;
  let open: OpenFile | undefined;
  let lastSync = clock.now();
  // Records waiting, split by IST date so no block straddles two files.
  let pending: Pending[] = [];
  let pendingBytes = 0;
  let timer: TimerId | undefined;
  let writing: Promise<void> = Promise.resolve();

  function stop(reason: string): void {
    if (problem !== null) return;
    problem = reason;
    pending = [];
    pendingBytes = 0;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    log("error", `Journal stopped, the feed goes on: ${reason}`);
    try {
      options.onProblem?.(reason);
    } catch (error: unknown) {
      log("warn", `Journal problem hook failed: ${describe(error)}`);
    }
  }

  async function prune(today: string): Promise<void> {
    if (options.keepDays === undefined) return;
    const oldestKept = istDate(istMidnight(today) - (options.keepDays - 1) * DAY_MS);
    const { dates } = await listJournal(dir);
    for (const date of dates) {
      if (date >= oldestKept) continue;
      await Deno.remove(`${dir}/${journalFileName(date)}`);
      log(
        "info",
        `Journal: removed ${journalFileName(date)} (older than ${options.keepDays} days)`,
      );
    }
  }

  async function closeFile(): Promise<void> {
    const current = open;
    open = undefined;
    if (current === undefined) return;
    try {
      if (current.dirty) {
        await current.file.syncData();
        counts.fsyncs_total++;
      }
    } finally {
      current.file.close();
    }
  }

  async function openDay(date: string): Promise<OpenFile> {
    const path = `${dir}/${journalFileName(date)}`;
    let end: JournalEnd | undefined;
    try {
      end = await scanJournal(path);
    } catch (error: unknown) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (end === undefined) {
      const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
      counts.writes_total += await writeAll(file, FILE_HEADER);
      counts.bytes_total += FILE_HEADER.length;
      await prune(date);
      return { date, path, file, dirty: true };
    }
    if (end.kind === "foreign") {
      throw new TypeError(`${path} is not a kitekeeper journal; it was left untouched`);
    }
    const file = await Deno.open(path, { write: true });
    if (end.kind === "torn") {
      const size = (await file.stat()).size;
      await file.truncate(end.offset);
      counts.truncated_bytes_total += size - end.offset;
      log("warn", `Journal: cut a torn tail off (${describeEnd(path, end)})`);
    }
    await file.seek(end.offset, Deno.SeekMode.Start);
    await prune(date);
    return { date, path, file, dirty: end.kind === "torn" };
  }

  async function writeBlock(group: Pending): Promise<void> {
    if (open?.date !== group.date) {
      // A late record of the day before goes into today's file rather than reopening it.
      if (open !== undefined && group.date < open.date) {
        return await writeInto(open, group);
      }
      await closeFile();
      open = await openDay(group.date);
    }
    await writeInto(open, group);
  }

  async function writeInto(target: OpenFile, group: Pending): Promise<void> {
    const block = encodeBlock(concat(group.parts, group.bytes), {
      codec,
      firstAtUs: group.firstAtUs,
      count: group.parts.length,
    });
    counts.writes_total += await writeAll(target.file, block);
    counts.bytes_total += block.length;
    target.dirty = true;
    const now = clock.now();
    if (now - lastSync >= fsyncMs) {
      lastSync = now;
      await target.file.syncData();
      target.dirty = false;
      counts.fsyncs_total++;
    }
  }

  function writePending(): Promise<void> {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    const groups = pending;
    pending = [];
    pendingBytes = 0;
    writing = writing.then(async () => {
      if (problem !== null || groups.length === 0) return;
      const path = () => open?.path ?? dir;
      try {
        for (const group of groups) await writeBlock(group);
      } catch (error: unknown) {
        stop(`Failed to write journal ${path()}: ${describe(error)}`);
        try {
          await closeFile();
        } catch {
          // Already reported: the file is as broken as the write was.
        }
      }
    });
    return writing;
  }

  function append(record: JournalRecord): void {
    if (problem !== null || closed) {
      counts.dropped_total++;
      return;
    }
    const bytes = encodedRecord(record);
    const date = istDate(record.at_us / 1000);
    let group = pending.at(-1);
    if (group === undefined || group.date !== date || group.bytes >= BLOCK_TARGET_BYTES) {
      group = { date, firstAtUs: record.at_us, parts: [], bytes: 0 };
      pending.push(group);
    }
    group.parts.push(bytes);
    group.bytes += bytes.length;
    pendingBytes += bytes.length;
    counts.records_total++;
    counts.record_bytes_total += bytes.length;
    if (pendingBytes > maxPendingBytes) {
      stop(`Journal writes cannot keep up: ${pendingBytes} bytes waiting`);
      return;
    }
    if (group.bytes >= BLOCK_TARGET_BYTES) void writePending();
    else if (timer === undefined) timer = clock.setTimeout(() => void writePending(), flushMs);
  }

  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const { foreign } = await listJournal(dir);
    if (foreign.length > 0) {
      log("warn", `Journal: ${dir} also holds ${foreign.join(", ")}; left alone`);
    }
    await prune(istDate(clock.now()));
  } catch (error: unknown) {
    stop(`Failed to open journal directory ${dir}: ${describe(error)}`);
  }

  async function close(): Promise<void> {
    if (closed) return await writing;
    await writePending();
    closed = true;
    writing = writing.then(async () => {
      try {
        await closeFile();
      } catch (error: unknown) {
        stop(`Failed to close journal: ${describe(error)}`);
      }
    });
    await writing;
  }

  return {
    append,
    status: () => ({
      state: problem === null ? "writing" : "stopped",
      dir,
      file: open?.path ?? null,
      problem,
      ...counts,
    }),
    flush: writePending,
    close,
    [Symbol.asyncDispose]: close,
  };
}
