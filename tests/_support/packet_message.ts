/**
 * Raw ticker messages for decoder tests: packet bodies framed the way Kite frames them, so a
 * test can send bytes `encode()` would never write.
 *
 * @module
 */
import { frameBodies } from "../../src/kite/packets.ts";

/** Wraps packet bodies in a message: int16 count, then int16 length + body each. */
export function packetMessage(bodies: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  return frameBodies(bodies);
}
