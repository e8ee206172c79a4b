import assert from "node:assert/strict";
import fc from "fast-check";
import { decode, encode, type Tick } from "../../../src/kite/packets.ts";
import { fieldRecord, tickFields, tickFromFields } from "../../../src/cluster/tick_fields.ts";
import { packetMessage } from "../../_support/packet_message.ts";

const SEGMENTS = [1, 2, 3, 4, 6, 7, 9] as const;
const KNOWN_LENGTHS = [8, 28, 32, 44, 184] as const;

/** Random packets of every kind and mode, decoded as the holder decodes Kite's. */
const decodedTicks = fc
  .array(
    fc.record({
      length: fc.constantFrom(...KNOWN_LENGTHS),
      segment: fc.constantFrom(...SEGMENTS),
      id: fc.integer({ min: 0, max: 0xffffff }),
      body: fc.uint8Array({ minLength: 184, maxLength: 184 }),
    }).map(({ length, segment, id, body }) => {
      const bytes = body.slice(0, length);
      new DataView(bytes.buffer).setUint32(0, id * 256 + segment);
      return bytes;
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((bodies) => {
    const decoded = decode(packetMessage(bodies));
    return decoded.kind === "ticks" ? decoded.ticks : [];
  });

Deno.test("tickFromFields(tickFields()) gives back every tick, so encode() rebuilds Kite's bytes", () => {
  fc.assert(
    fc.property(decodedTicks, fc.nat(), (ticks, fence) => {
      const back: Tick[] = [];
      for (const tick of ticks) {
        const read = tickFromFields(
          fieldRecord(tickFields(tick, { at: 1_700_000_000_123, fence })),
        );
        assert.ok(read !== null);
        assert.deepEqual(read.origin, { at: 1_700_000_000_123, fence });
        back.push(read.tick);
      }
      // Through JSON: -0 and 0 are one price.
      assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(ticks)));
      assert.deepEqual(encode(back), encode(ticks));
    }),
    { numRuns: 300 },
  );
});

Deno.test("tickFields() are flat decimal text a Python reader takes as they are", () => {
  const tick: Tick = {
    kind: "ltp",
    mode: "ltp",
    instrument_token: 408065,
    tradable: true,
    last_price: 1412.95,
  };
  assert.deepEqual(fieldRecord(tickFields(tick, { at: 5, fence: 2 })), {
    token: "408065",
    kind: "ltp",
    mode: "ltp",
    ltp: "1412.95",
    at: "5",
    fence: "2",
  });
});

Deno.test("tickFromFields() refuses entries with a missing or unreadable field", () => {
  const good = fieldRecord(
    tickFields({ kind: "ltp", mode: "ltp", instrument_token: 1, tradable: true, last_price: 2 }, {
      at: 1,
      fence: 1,
    }),
  );
  assert.ok(tickFromFields(good) !== null);
  for (
    const change of [{ ltp: "" }, { ltp: "x" }, { kind: "other" }, { mode: "depth" }, {
      fence: "NaN",
    }]
  ) {
    assert.equal(tickFromFields({ ...good, ...change }), null, JSON.stringify(change));
  }
  const { token: _, ...noToken } = good;
  assert.equal(tickFromFields(noToken), null);
  assert.equal(
    tickFromFields({ ...good, kind: "quote", mode: "full", depth: "{" }),
    null,
  );
});
