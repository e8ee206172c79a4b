/**
 * The last raw packet kitekeeper received for each instrument, so a client that subscribes
 * gets the current tick at once, as Kite sends a fresh subscriber its cached tick. Bytes, not
 * decoded ticks: a client's copy is a prefix of the stored packet cut to its mode.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import { cutLength, frameBodies, type LowerModes, type PacketIndex, servesMode } from "./frames.ts";

/** Last packet per instrument token. */
export class LastPackets {
  #packets = new Map<number, Uint8Array>();

  /** Instruments held. */
  get size(): number {
    return this.#packets.size;
  }

  /** Keeps each packet of `message` (indexed by `index`) as its instrument's latest. */
  record(message: Uint8Array, index: PacketIndex): void {
    for (let i = 0; i < index.count; i++) {
      const token = index.tokens[i] as number;
      const offset = index.offsets[i] as number;
      const length = index.lengths[i] as number;
      const body = message.subarray(offset, offset + length);
      const kept = this.#packets.get(token);
      // A copy, reused while the length holds: the message's buffer is not ours to keep.
      if (kept !== undefined && kept.byteLength === length) kept.set(body);
      else this.#packets.set(token, body.slice());
    }
  }

  /** Forgets every instrument `keep` does not hold (they left the subscriptions). */
  retain(keep: ReadonlyMap<number, unknown>): void {
    for (const token of this.#packets.keys()) if (!keep.has(token)) this.#packets.delete(token);
  }

  /**
   * A message of the held packets of `tokens`, each cut to its mode in `modes`; with
   * `lowerModes: "hold"` an ltp packet for a quote or full client is left out (the upstream's
   * next tick brings the right one).
   * `null` when none is held.
   */
  message(
    tokens: Iterable<number>,
    modes: ReadonlyMap<number, Mode>,
    options: { lowerModes?: LowerModes } = {},
  ): Uint8Array | null {
    const bodies: Uint8Array[] = [];
    for (const token of tokens) {
      const packet = this.#packets.get(token);
      const mode = modes.get(token);
      if (packet === undefined || mode === undefined) continue;
      if (options.lowerModes === "hold" && !servesMode(packet.byteLength, mode)) continue;
      bodies.push(packet.subarray(0, cutLength(packet.byteLength, mode)));
    }
    return bodies.length === 0 ? null : frameBodies(bodies);
  }
}
