/**
 * The simulator's instrument list: what it knows and ticks. Kite validates nothing on
 * subscribe (Zerodha staff, kite.trade forum #7069: "It is the user's responsibility to send
 * valid tokens"); a token it does not list simply never ticks, and so here.
 *
 * The list is fixed, the same in every process: the three indices, a few instruments of
 * every segment (token & 0xff: 1 NSE, 2 NFO, 3 CDS, 4 BSE, 5 BFO, 6 BCD, 7 MCX, 9 indices),
 * and a generated block of {@linkcode OPTION_COUNT} NFO options, enough to fill Kite's 9000
 * instruments a key (3 sockets × 3000). Tokens are built as Kite builds them:
 * `exchange_token << 8 | segment`.
 *
 * @module
 */

/** An exchange segment by Kite's segment number (token & 0xff). */
export type Exchange = "NSE" | "NFO" | "CDS" | "BSE" | "BFO" | "BCD" | "MCX" | "INDICES";

/** One instrument the simulator ticks. */
export interface SimInstrument {
  readonly instrument_token: number;
  readonly exchange_token: number;
  readonly tradingsymbol: string;
  readonly exchange: Exchange;
  /** Where its price starts, in rupees (the day's close). */
  readonly level: number;
}

/** How many NFO options the generated block holds. */
export const OPTION_COUNT = 10_000;

/** `exchange_token` of the first generated option (its instrument token is this << 8 | 2). */
const OPTION_BASE = 40_000;
const NFO = 2;

function instrument(
  exchangeToken: number,
  segment: number,
  fields: { tradingsymbol: string; exchange: Exchange; level: number },
): SimInstrument {
  return Object.freeze({
    instrument_token: exchangeToken * 256 + segment,
    exchange_token: exchangeToken,
    ...fields,
  });
}

/** Kite's real tokens where they are well known; the rest built the same way. */
function named(): SimInstrument[] {
  const index = (token: number, tradingsymbol: string, level: number) =>
    instrument(token >>> 8, 9, { tradingsymbol, exchange: "INDICES", level });
  return [
    index(256265, "NIFTY 50", 24000),
    index(260105, "NIFTY BANK", 52000),
    index(265, "SENSEX", 80000),
    instrument(1594, 1, { tradingsymbol: "INFY", exchange: "NSE", level: 1500 }),
    instrument(2885, 1, { tradingsymbol: "RELIANCE", exchange: "NSE", level: 2900 }),
    instrument(11536, 1, { tradingsymbol: "TCS", exchange: "NSE", level: 3900 }),
    instrument(1333, 1, { tradingsymbol: "HDFCBANK", exchange: "NSE", level: 1650 }),
    instrument(3456, 1, { tradingsymbol: "TATAMOTORS", exchange: "NSE", level: 700 }),
    instrument(500325, 4, { tradingsymbol: "RELIANCE", exchange: "BSE", level: 2900 }),
    instrument(500209, 4, { tradingsymbol: "INFY", exchange: "BSE", level: 1500 }),
    instrument(35001, NFO, { tradingsymbol: "NIFTY26JANFUT", exchange: "NFO", level: 24100 }),
    instrument(1001, 3, { tradingsymbol: "USDINR26JANFUT", exchange: "CDS", level: 83.5 }),
    instrument(1002, 3, { tradingsymbol: "EURINR26JANFUT", exchange: "CDS", level: 90.25 }),
    instrument(2001, 6, { tradingsymbol: "USDINR26JANFUT", exchange: "BCD", level: 83.5 }),
    instrument(400001, 7, { tradingsymbol: "CRUDEOIL26JANFUT", exchange: "MCX", level: 6000 }),
    instrument(400002, 7, { tradingsymbol: "GOLD26FEBFUT", exchange: "MCX", level: 72000 }),
    instrument(800001, 5, { tradingsymbol: "SENSEX2610680000CE", exchange: "BFO", level: 320 }),
  ];
}

const UNDERLYINGS = [
  { name: "NIFTY", spot: 24000, step: 50 },
  { name: "BANKNIFTY", spot: 52000, step: 100 },
] as const;
const EXPIRIES = ["26JAN", "26FEB", "26MAR", "26APR", "26MAY"] as const;
/** Strikes either side of the money per underlying and expiry: 2 × 5 × 500 × 2 = 10 000. */
const STRIKES_EACH_SIDE = 250;

/** The NFO option block: calls and puts over 500 strikes, 5 expiries, 2 underlyings. */
function options(): SimInstrument[] {
  const out: SimInstrument[] = [];
  for (const underlying of UNDERLYINGS) {
    for (const [e, expiry] of EXPIRIES.entries()) {
      for (let k = -STRIKES_EACH_SIDE; k < STRIKES_EACH_SIDE; k++) {
        const strike = underlying.spot + k * underlying.step;
        for (const type of ["CE", "PE"] as const) {
          const intrinsic = Math.max(
            0,
            type === "CE" ? underlying.spot - strike : strike - underlying.spot,
          );
          // Time value shrinks away from the money and grows with the expiry.
          const time = underlying.spot * 0.01 * (e + 1) / (1 + Math.abs(k) / 10);
          const level = Math.max(0.05, Math.round((intrinsic + time) * 20) / 20);
          out.push(
            instrument(OPTION_BASE + out.length, NFO, {
              tradingsymbol: `${underlying.name}${expiry}${strike}${type}`,
              exchange: "NFO",
              level,
            }),
          );
        }
      }
    }
  }
  return out;
}

/** Every instrument the simulator knows, in a fixed order: named ones, then the options. */
export const SIM_INSTRUMENTS: readonly SimInstrument[] = Object.freeze([...named(), ...options()]);

/**
 * The first `count` tokens of the NFO option block: instruments that tick, for tests and
 * benchmarks that need many.
 *
 * @throws {RangeError} when `count` is not a whole number in 0…{@linkcode OPTION_COUNT}.
 */
export function optionTokens(count: number): number[] {
  if (!Number.isInteger(count) || count < 0 || count > OPTION_COUNT) {
    throw new RangeError(
      `Failed to list option tokens: count must be 0…${OPTION_COUNT}, got ${count}`,
    );
  }
  return Array.from({ length: count }, (_, i) => (OPTION_BASE + i) * 256 + NFO);
}
