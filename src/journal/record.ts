/**
 * What the journal keeps, one record at a time: a raw Kite binary message with the instant it
 * arrived and the upstream shard it came on, a change of the lifecycle, or a gap in the feed.
 *
 * A record on disk is a 16-byte header, then its payload (big-endian):
 *
 * | offset | size | field                                                        |
 * | ------ | ---- | ------------------------------------------------------------ |
 * | 0      | 1    | kind: 1 message, 2 lifecycle, 3 gap                          |
 * | 1      | 1    | upstream shard (0 for records about the whole feed)          |
 * | 2      | 2    | reserved, 0                                                  |
 * | 4      | 8    | receive time, µs since the epoch (float64: exact below 2⁵³) |
 * | 12     | 4    | payload length                                               |
 * | 16     | n    | payload: Kite's bytes as received, or JSON for the others    |
 *
 * Records are framed and checked a block at a time (`block.ts`), not one by one.
 *
 * @module
 */
import type { Gap } from "../feed/gap_tracker.ts";
import type { Mode } from "../kite/packets.ts";

/** A lifecycle change: the state the token's machine entered and what it serves. */
export interface LifecycleChange {
  /** `Disconnected`, `Reconnecting`, `Live` or `Expired`. */
  readonly state: string;
  /** Epoch ms the state began (as the lifecycle says: notices replay it exactly). */
  readonly since: number;
  /** The token's fingerprint (never the token), `null` when there is none. */
  readonly fingerprint: string | null;
  /** Why, as the lifecycle says it; `null` when it gives no reason. */
  readonly reason: string | null;
  /** What each upstream shard carries: its instrument tokens, by mode. */
  readonly subscriptions: readonly {
    readonly shard: number;
    readonly mode: Mode;
    readonly tokens: readonly number[];
  }[];
}

/** One journal record; `at_us` is its receive time in µs since the epoch. */
export type JournalRecord =
  | {
    readonly kind: "message";
    readonly at_us: number;
    readonly shard: number;
    /** The binary message exactly as Kite sent it. */
    readonly bytes: Uint8Array;
  }
  | {
    readonly kind: "lifecycle";
    readonly at_us: number;
    readonly shard: number;
    readonly change: LifecycleChange;
  }
  | { readonly kind: "gap"; readonly at_us: number; readonly shard: number; readonly gap: Gap };

/** The bytes of a record's header. */
export const RECORD_HEADER_BYTES = 16;

const KIND_CODE = { message: 1, lifecycle: 2, gap: 3 } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function payloadOf(record: JournalRecord): Uint8Array {
  switch (record.kind) {
    case "message":
      return record.bytes;
    case "lifecycle":
      return encoder.encode(JSON.stringify(record.change));
    case "gap":
      return encoder.encode(JSON.stringify(record.gap));
  }
}

/** `record` as journal bytes: its header, then its payload. */
export function encodedRecord(record: JournalRecord): Uint8Array {
  const payload = payloadOf(record);
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, KIND_CODE[record.kind]);
  view.setUint8(1, record.shard);
  view.setFloat64(4, record.at_us);
  view.setUint32(12, payload.length);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  const value: unknown = JSON.parse(decoder.decode(bytes));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Failed to read a ${what} record: not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads every record of a block's decompressed payload. The block's checksum already
 * vouched for the bytes, so a malformed record here means a foreign or buggy writer.
 *
 * @throws {SyntaxError} naming the offset of the first record that does not parse
 */
export function decodeRecords(payload: Uint8Array): JournalRecord[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const records: JournalRecord[] = [];
  let at = 0;
  while (at < payload.length) {
    if (at + RECORD_HEADER_BYTES > payload.length) {
      throw new SyntaxError(`Failed to read a record at ${at}: header runs past the block`);
    }
    const code = view.getUint8(at);
    const shard = view.getUint8(at + 1);
    const atUs = view.getFloat64(at + 4);
    const length = view.getUint32(at + 12);
    const start = at + RECORD_HEADER_BYTES;
    if (start + length > payload.length) {
      throw new SyntaxError(`Failed to read a record at ${at}: payload runs past the block`);
    }
    const body = payload.subarray(start, start + length);
    if (code === KIND_CODE.message) {
      records.push({ kind: "message", at_us: atUs, shard, bytes: body });
    } else if (code === KIND_CODE.lifecycle) {
      const change = parseJson(body, "lifecycle") as unknown as LifecycleChange;
      records.push({ kind: "lifecycle", at_us: atUs, shard, change });
    } else if (code === KIND_CODE.gap) {
      const gap = parseJson(body, "gap") as unknown as Gap;
      records.push({ kind: "gap", at_us: atUs, shard, gap });
    } else {
      throw new SyntaxError(`Failed to read a record at ${at}: unknown kind ${code}`);
    }
    at = start + length;
  }
  return records;
}
