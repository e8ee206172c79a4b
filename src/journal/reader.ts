/**
 * Reads a journal file block by block, stopping at the first block that is not whole and
 * intact (a torn tail, or bytes no journal writer wrote) and saying where and why.
 *
 * @module
 */
import {
  BLOCK_HEADER_BYTES,
  type BlockHeader,
  blockIntact,
  blockPayload,
  FILE_HEADER,
  isJournalHeader,
  readBlockHeader,
} from "./block.ts";
import { decodeRecords, type JournalRecord } from "./record.ts";

/** Where reading a journal file stopped. */
export type JournalEnd =
  /** The file ends after a whole block (or after the file header, when it holds none). */
  | { readonly kind: "complete"; readonly offset: number }
  /** From `offset` on, the bytes are not a whole intact block; everything before is valid. */
  | { readonly kind: "torn"; readonly offset: number; readonly detail: string }
  /** The file does not start with the journal header: nothing in it is read. */
  | { readonly kind: "foreign"; readonly offset: 0; readonly detail: string };

/** One intact block: where it starts, its header, and (unless skipped) its records. */
export interface JournalBlock {
  readonly offset: number;
  readonly header: BlockHeader;
  /** Empty when read with `records: false`. */
  readonly records: readonly JournalRecord[];
}

/** Options of {@linkcode readJournalBlocks}. */
export interface ReadJournalOptions {
  /** Called once, when the reading stops (at the end or at the first bad block). */
  readonly onEnd?: (end: JournalEnd) => void;
  /** `false` checks framing and checksums only, without inflating or parsing records. */
  readonly records?: boolean;
}

/** A file read in large chunks, handing out exact byte counts. */
class ChunkedFile {
  #file: Deno.FsFile;
  #buffer = new Uint8Array(0);
  #start = 0;
  #eof = false;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** The next `n` bytes, or fewer at the end of the file. */
  async take(n: number): Promise<Uint8Array> {
    while (this.#buffer.length - this.#start < n && !this.#eof) {
      const chunk = new Uint8Array(Math.max(1 << 20, n));
      const read = await this.#file.read(chunk);
      if (read === null) {
        this.#eof = true;
        break;
      }
      const rest = this.#buffer.subarray(this.#start);
      const merged = new Uint8Array(rest.length + read);
      merged.set(rest);
      merged.set(chunk.subarray(0, read), rest.length);
      this.#buffer = merged;
      this.#start = 0;
    }
    const end = Math.min(this.#buffer.length, this.#start + n);
    const out = this.#buffer.subarray(this.#start, end);
    this.#start = end;
    return out;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Yields the intact blocks of the journal file at `path` in order, then reports through
 * `onEnd` where and why it stopped.
 *
 * @throws {Deno.errors.NotFound} and other open errors, before anything is yielded
 */
export async function* readJournalBlocks(
  path: string,
  options: ReadJournalOptions = {},
): AsyncGenerator<JournalBlock> {
  const withRecords = options.records ?? true;
  using file = await Deno.open(path, { read: true });
  const input = new ChunkedFile(file);
  let end: JournalEnd;
  const head = await input.take(FILE_HEADER.length);
  if (!isJournalHeader(head)) {
    end = { kind: "foreign", offset: 0, detail: `${path} is not a kitekeeper journal` };
    options.onEnd?.(end);
    return;
  }
  let offset = FILE_HEADER.length;
  for (;;) {
    const headerBytes = await input.take(BLOCK_HEADER_BYTES);
    if (headerBytes.length === 0) {
      end = { kind: "complete", offset };
      break;
    }
    const header = readBlockHeader(headerBytes);
    if (headerBytes.length < BLOCK_HEADER_BYTES || header === undefined) {
      const detail = headerBytes.length < BLOCK_HEADER_BYTES
        ? `a block header cut short (${headerBytes.length} of ${BLOCK_HEADER_BYTES} bytes)`
        : "bytes that are not a block header";
      end = { kind: "torn", offset, detail };
      break;
    }
    const stored = await input.take(header.stored);
    if (stored.length < header.stored) {
      end = {
        kind: "torn",
        offset,
        detail: `a block cut short (${stored.length} of ${header.stored} bytes)`,
      };
      break;
    }
    if (!blockIntact(headerBytes, stored)) {
      end = { kind: "torn", offset, detail: "a block whose checksum does not match" };
      break;
    }
    let records: JournalRecord[] = [];
    if (withRecords) {
      try {
        records = decodeRecords(blockPayload(header, stored));
      } catch (error: unknown) {
        end = { kind: "torn", offset, detail: `a block that does not parse: ${describe(error)}` };
        break;
      }
    }
    yield { offset, header, records };
    offset += BLOCK_HEADER_BYTES + header.stored;
  }
  options.onEnd?.(end);
}

/**
 * Yields every record of the journal file at `path`, in the order written, then reports
 * through `onEnd` where and why it stopped.
 */
export async function* readJournal(
  path: string,
  options: Pick<ReadJournalOptions, "onEnd"> = {},
): AsyncGenerator<JournalRecord> {
  for await (const block of readJournalBlocks(path, options)) yield* block.records;
}

/** Says where a reading stopped, for a person: `null` when the file was read whole. */
export function describeEnd(path: string, end: JournalEnd): string | null {
  if (end.kind === "complete") return null;
  if (end.kind === "foreign") return end.detail;
  return `${path}: valid up to byte ${end.offset}, then ${end.detail}`;
}
