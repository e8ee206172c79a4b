/**
 * A journal file is a file header, then blocks; each flush of the writer appends one block.
 * A block holds whole records, optionally compressed, under one CRC-32, so a block is either
 * all there and intact or not there at all: a torn tail shows as a block that runs past the
 * end of the file or fails its checksum, and everything before it stands.
 *
 * File header (16 bytes): ASCII `KKJRNL01`, then 8 reserved zero bytes.
 *
 * Block header (32 bytes, big-endian), then `stored` payload bytes:
 *
 * | offset | size | field                                                              |
 * | ------ | ---- | ------------------------------------------------------------------ |
 * | 0      | 4    | magic `KKJB`                                                       |
 * | 4      | 4    | stored payload length                                              |
 * | 8      | 4    | payload length once decompressed                                   |
 * | 12     | 1    | codec: 0 stored as is, 1 deflate (raw, RFC 1951)                   |
 * | 13     | 3    | reserved, 0                                                        |
 * | 16     | 8    | first record's receive time, µs (float64), to seek without reading |
 * | 24     | 4    | record count                                                       |
 * | 28     | 4    | CRC-32 of header bytes 0–27 and the stored payload                 |
 *
 * The magic makes a run of zeros (what some file systems leave after a crash) fail at once
 * instead of passing as an empty block.
 *
 * @module
 */
import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";

/** How a block's payload is stored. */
export type BlockCodec = "none" | "deflate";

/** The 16 bytes every journal file starts with. */
export const FILE_HEADER: Uint8Array = new Uint8Array([
  ...new TextEncoder().encode("KKJRNL01"),
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
]);

/** Bytes of a block header. */
export const BLOCK_HEADER_BYTES = 32;

/** No block's payload is larger than this, stored or decompressed; past it, it is corrupt. */
export const MAX_BLOCK_PAYLOAD = 64 * 1024 * 1024;

const BLOCK_MAGIC = 0x4b4b4a42; // "KKJB"
const CODEC_CODE: Readonly<Record<BlockCodec, number>> = { none: 0, deflate: 1 };
// Level 1: on full-mode packets (simulator, 3000 instruments, 1 s blocks) a tick takes 119
// bytes instead of 186 stored, for ~10 ms of CPU a second; level 6 reaches 93 bytes for ~4×
// the CPU. The bench reports both sizes.
const DEFLATE_LEVEL = 1;

/** A block's header, read back. */
export interface BlockHeader {
  readonly stored: number;
  readonly raw: number;
  readonly codec: BlockCodec;
  readonly firstAtUs: number;
  readonly count: number;
  readonly crc: number;
}

/** True when `bytes` starts with the journal's file header. */
export function isJournalHeader(bytes: Uint8Array): boolean {
  if (bytes.length < FILE_HEADER.length) return false;
  return FILE_HEADER.every((byte, i) => bytes[i] === byte);
}

/**
 * Frames `payload` (encoded records) as one block. With `codec: "deflate"` the payload is
 * compressed, and kept as is when compressing does not make it smaller.
 */
export function encodeBlock(
  payload: Uint8Array,
  options: { codec: BlockCodec; firstAtUs: number; count: number },
): Uint8Array {
  let stored = payload;
  let codec: BlockCodec = "none";
  if (options.codec === "deflate") {
    const deflated = deflateRawSync(payload, { level: DEFLATE_LEVEL });
    if (deflated.length < payload.length) {
      stored = deflated;
      codec = "deflate";
    }
  }
  const block = new Uint8Array(BLOCK_HEADER_BYTES + stored.length);
  const view = new DataView(block.buffer);
  view.setUint32(0, BLOCK_MAGIC);
  view.setUint32(4, stored.length);
  view.setUint32(8, payload.length);
  view.setUint8(12, CODEC_CODE[codec]);
  view.setFloat64(16, options.firstAtUs);
  view.setUint32(24, options.count);
  block.set(stored, BLOCK_HEADER_BYTES);
  const crc = crc32(stored, crc32(block.subarray(0, 28)));
  view.setUint32(28, crc);
  return block;
}

/**
 * Reads a block header; `undefined` when the bytes cannot be one (wrong magic, unknown
 * codec, impossible lengths), which a reader treats as where the valid part of the file ends.
 */
export function readBlockHeader(bytes: Uint8Array): BlockHeader | undefined {
  if (bytes.length < BLOCK_HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, BLOCK_HEADER_BYTES);
  if (view.getUint32(0) !== BLOCK_MAGIC) return undefined;
  const stored = view.getUint32(4);
  const raw = view.getUint32(8);
  const code = view.getUint8(12);
  const codec: BlockCodec | undefined = code === 0 ? "none" : code === 1 ? "deflate" : undefined;
  if (codec === undefined || stored > MAX_BLOCK_PAYLOAD || raw > MAX_BLOCK_PAYLOAD) {
    return undefined;
  }
  if (codec === "none" && stored !== raw) return undefined;
  return {
    stored,
    raw,
    codec,
    firstAtUs: view.getFloat64(16),
    count: view.getUint32(24),
    crc: view.getUint32(28),
  };
}

/** True when `stored` (the payload after `header`) matches the header's CRC-32. */
export function blockIntact(headerBytes: Uint8Array, stored: Uint8Array): boolean {
  const view = new DataView(headerBytes.buffer, headerBytes.byteOffset, BLOCK_HEADER_BYTES);
  return crc32(stored, crc32(headerBytes.subarray(0, 28))) === view.getUint32(28);
}

/**
 * The decompressed payload of an intact block.
 *
 * @throws {SyntaxError} when it does not inflate to the length the header gives
 */
export function blockPayload(header: BlockHeader, stored: Uint8Array): Uint8Array {
  if (header.codec === "none") return stored;
  const raw = new Uint8Array(inflateRawSync(stored));
  if (raw.length !== header.raw) {
    throw new SyntaxError(
      `Failed to inflate a block: ${raw.length} bytes, the header says ${header.raw}`,
    );
  }
  return raw;
}
