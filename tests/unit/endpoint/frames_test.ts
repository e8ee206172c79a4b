import assert from "node:assert/strict";
import { decode, encode, type Mode, type Tick } from "../../../src/kite/packets.ts";
import { Market } from "../../../src/simulator/market.ts";
import { cutLength, cutMessage, indexPackets, servesMode } from "../../../src/endpoint/frames.ts";
import { packetMessage } from "../../_support/packet_message.ts";

const NIFTY = 256265; // an index (segment 9)
const INFY = 408065;
const RELIANCE = 738561;

function fullTicks(tokens: readonly number[]): Tick[] {
  const market = new Market({ now: () => 1_780_000_000_000, random: () => 0.42 });
  return tokens.map((token) => market.tick(token, "full"));
}

function ticksIn(message: Uint8Array | null): Tick[] {
  assert.ok(message !== null);
  const decoded = decode(message);
  assert.equal(decoded.kind, "ticks");
  assert.equal(decoded.kind === "ticks" ? decoded.errors : -1, 0);
  return decoded.kind === "ticks" ? decoded.ticks : [];
}

Deno.test("cutLength() gives each mode its prefix of a full packet", () => {
  assert.deepEqual((["full", "quote", "ltp"] as Mode[]).map((m) => cutLength(184, m)), [
    184,
    44,
    8,
  ]);
  assert.deepEqual((["full", "quote", "ltp"] as Mode[]).map((m) => cutLength(32, m)), [32, 28, 8]);
  assert.equal(cutLength(44, "full"), 44);
});

Deno.test("cutMessage() hands the upstream message itself to a client that holds all of it", () => {
  const message = encode(fullTicks([NIFTY, INFY]));
  const modes = new Map<number, Mode>([[NIFTY, "full"], [INFY, "full"], [RELIANCE, "ltp"]]);
  assert.equal(cutMessage(message, indexPackets(message), modes), message);
});

Deno.test("cutMessage() decodes, cut to each mode, to what Kite sends in that mode", () => {
  const full = fullTicks([NIFTY, INFY, RELIANCE]);
  const message = encode(full);
  const index = indexPackets(message);
  const modes = new Map<number, Mode>([[NIFTY, "quote"], [INFY, "ltp"]]);
  const ticks = ticksIn(cutMessage(message, index, modes));
  const market = new Market({ now: () => 1_780_000_000_000, random: () => 0.42 });
  assert.deepEqual(ticks, [market.tick(NIFTY, "quote"), market.tick(INFY, "ltp")]);
  assert.equal(cutMessage(message, index, new Map([[1, "full" as Mode]])), null);
});

Deno.test("indexPackets() skips what cannot be a packet and stops where the framing breaks", () => {
  const [nifty] = fullTicks([NIFTY]);
  const body = encode([nifty!]).subarray(4);
  const message = packetMessage([new Uint8Array(3), body]);
  const index = indexPackets(message);
  assert.equal(index.count, 1);
  assert.equal(index.tokens[0], NIFTY);
  // Not whole (a part was skipped): framed again with the one packet.
  const cut = cutMessage(message, index, new Map([[NIFTY, "full" as Mode]]));
  assert.notEqual(cut, message);
  assert.deepEqual(ticksIn(cut), [nifty]);
  const truncated = message.subarray(0, message.length - 1);
  assert.equal(indexPackets(truncated).count, 0);
  assert.equal(indexPackets(new Uint8Array(1)).count, 0);
});

Deno.test("cutMessage() holds back an ltp packet from a quote or full client, when asked", () => {
  const market = new Market({ now: () => 1_780_000_000_000, random: () => 0.42 });
  const message = encode([market.tick(INFY, "ltp"), market.tick(NIFTY, "quote")]);
  const index = indexPackets(message);
  const hold = { lowerModes: "hold" } as const;
  assert.equal(cutMessage(message, index, new Map<number, Mode>([[INFY, "quote"]]), hold), null);
  // A quote packet goes to a full client: Kite sends one after a subscribe, too.
  const full = new Map<number, Mode>([[INFY, "full"], [NIFTY, "full"]]);
  assert.deepEqual(ticksIn(cutMessage(message, index, full, hold)), [market.tick(NIFTY, "quote")]);
  // Passed on as they are by default (a recording has nothing better).
  assert.deepEqual(ticksIn(cutMessage(message, index, full)), [
    market.tick(INFY, "ltp"),
    market.tick(NIFTY, "quote"),
  ]);
  const ltp = new Map<number, Mode>([[INFY, "ltp"], [NIFTY, "ltp"]]);
  assert.deepEqual(ticksIn(cutMessage(message, index, ltp, hold)), [
    market.tick(INFY, "ltp"),
    market.tick(NIFTY, "ltp"),
  ]);
  assert.deepEqual(
    [servesMode(8, "quote"), servesMode(8, "ltp"), servesMode(28, "full"), servesMode(44, "full")],
    [false, true, true, true],
  );
});
