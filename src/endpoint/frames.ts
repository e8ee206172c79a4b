/**
 * Kite's binary messages cut to one client's measure, without decoding a price: a lower mode
 * is a byte prefix of a higher one (full 184 → quote 44 → ltp 8; index full 32 → quote 28 →
 * ltp 8), so a client's message is the packets of its instruments, each cut to its mode,
 * framed again (int16 count, then int16 length + body each, big-endian).
 *
 * @module
 */
import { type Mode, PACKET_LENGTH } from "../kite/packets.ts";

/** Where the packets of one binary message are, in order (parallel arrays of `count`). */
export interface PacketIndex {
  readonly count: number;
  /** Instrument token of each packet (its first 4 bytes, unsigned). */
  readonly tokens: Uint32Array;
  /** Offset of each packet's body in the message. */
  readonly offsets: Uint32Array;
  /** Length of each packet's body. */
  readonly lengths: Uint16Array;
}

/** Bodies shorter than this hold no instrument token and price: skipped. */
const SMALLEST = PACKET_LENGTH.ltp;
const HEADER = 2;

/**
 * Indexes the packets of a binary message. Packets too short to carry a token and a price are
 * left out; a count or length that runs past the end stops the index there (as `decode`
 * does), so whatever comes out is safe to slice.
 */
export function indexPackets(message: Uint8Array): PacketIndex {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const end = message.byteLength;
  const announced = end < HEADER ? 0 : view.getUint16(0);
  const tokens = new Uint32Array(announced);
  const offsets = new Uint32Array(announced);
  const lengths = new Uint16Array(announced);
  let count = 0;
  let at = HEADER;
  for (let n = 0; n < announced && at + 2 <= end; n++) {
    const length = view.getUint16(at);
    at += 2;
    if (at + length > end) break;
    if (length >= SMALLEST) {
      tokens[count] = view.getUint32(at);
      offsets[count] = at;
      lengths[count] = length;
      count++;
    }
    at += length;
  }
  return { count, tokens, offsets, lengths };
}

/** How many bytes of a `length`-byte packet a client in `mode` gets (a prefix of it). */
export function cutLength(length: number, mode: Mode): number {
  switch (mode) {
    case "full":
      return length;
    case "quote":
      if (length === PACKET_LENGTH.full) return PACKET_LENGTH.quote;
      if (length === PACKET_LENGTH.index_full) return PACKET_LENGTH.index_quote;
      return length;
    case "ltp":
      return Math.min(length, PACKET_LENGTH.ltp);
  }
}

/**
 * What to do with an ltp packet for a client in quote or full mode: `hold` it back (a live
 * upstream whose mode is being raised sends the quote or full one next) or `pass` it on (a
 * recording has nothing better). A quote packet always goes to a full client: Kite itself
 * sends one right after a subscribe (its default mode) before the `mode` request lands.
 */
export type LowerModes = "hold" | "pass";

/** Whether a `length`-byte packet may go to a client in `mode` when lower modes are held. */
export function servesMode(length: number, mode: Mode): boolean {
  return mode === "ltp" || length > PACKET_LENGTH.ltp;
}

/** Frames packet bodies as one message: int16 count, then int16 length + body each. */
export function frameBodies(bodies: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let size = HEADER;
  for (const body of bodies) size += 2 + body.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, bodies.length);
  let at = HEADER;
  for (const body of bodies) {
    view.setUint16(at, body.byteLength);
    bytes.set(body, at + 2);
    at += 2 + body.byteLength;
  }
  return bytes;
}

/**
 * The message a client holding `modes` (token → mode) gets from `message`: its instruments'
 * packets cut to its modes (an ltp packet for a quote or full client is left out when
 * `lowerModes` is `hold`; by default it is passed on). `message` itself when that is all of it unchanged (no copy);
 * `null` when nothing in it is the client's.
 */
export function cutMessage(
  message: Uint8Array,
  index: PacketIndex,
  modes: ReadonlyMap<number, Mode>,
  options: { lowerModes?: LowerModes } = {},
): Uint8Array | null {
  const hold = options.lowerModes === "hold";
  if (isWhole(message, index, modes, hold)) return message;
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < index.count; i++) {
    const mode = modes.get(index.tokens[i] as number);
    const length = index.lengths[i] as number;
    if (mode === undefined || (hold && !servesMode(length, mode))) continue;
    const offset = index.offsets[i] as number;
    bodies.push(message.subarray(offset, offset + cutLength(length, mode)));
  }
  return bodies.length === 0 ? null : frameBodies(bodies);
}

/**
 * Whether the client gets `message` as it is: every byte is a packet `index` holds (none
 * skipped, nothing after), and the client holds each in a mode that cuts nothing. Checked
 * before any allocation: it is the common case of clients that want everything.
 */
function isWhole(
  message: Uint8Array,
  index: PacketIndex,
  modes: ReadonlyMap<number, Mode>,
  hold: boolean,
): boolean {
  const last = index.count - 1;
  if (last < 0 || message[0] !== index.count >> 8 || message[1] !== (index.count & 0xff)) {
    return false;
  }
  if ((index.offsets[last] as number) + (index.lengths[last] as number) !== message.byteLength) {
    return false;
  }
  for (let i = 0; i < index.count; i++) {
    const mode = modes.get(index.tokens[i] as number);
    const length = index.lengths[i] as number;
    if (mode === undefined || cutLength(length, mode) !== length) return false;
    if (hold && !servesMode(length, mode)) {
      return false;
    }
  }
  return true;
}
