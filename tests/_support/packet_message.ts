/**
 * Raw ticker messages for decoder tests: packet bodies framed the way Kite frames them, so a
 * test can send bytes `encode()` would never write.
 *
 * @module
 */

/** Wraps packet bodies in a message: int16 count, then int16 length + body each. */
export function packetMessage(bodies: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(bodies.reduce((n, b) => n + 2 + b.length, 2));
  const view = new DataView(bytes.buffer);
  view.setUint16(0, bodies.length);
  let at = 2;
  for (const body of bodies) {
    view.setUint16(at, body.length);
    bytes.set(body, at + 2);
    at += 2 + body.length;
  }
  return bytes;
}
