/**
 * Names of the instruments kitekeeper knows by heart: the default feed and a few equities.
 *
 * @module
 */

/** The default feed: NIFTY 50, NIFTY BANK, SENSEX. */
export const DEFAULT_INSTRUMENTS: readonly number[] = Object.freeze([256265, 260105, 265]);

/** Trading symbols of well-known instrument tokens. */
export const INSTRUMENT_NAMES: Readonly<Record<number, string>> = Object.freeze({
  256265: "NIFTY 50",
  260105: "NIFTY BANK",
  265: "SENSEX",
  408065: "INFY",
  738561: "RELIANCE",
  2953217: "TCS",
  341249: "HDFCBANK",
});

/** The name of `token`, or the token itself as text when it is not a known one. */
export function instrumentName(token: number): string {
  return INSTRUMENT_NAMES[token] ?? String(token);
}
