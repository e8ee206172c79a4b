/**
 * Runs the official `KiteTicker` against a ticker URL in its own process (it keeps
 * module-level state and leaves a read timer running, so it cannot share a test process).
 *
 * Usage: deno run --allow-net --allow-env --allow-read official_ticker_probe.ts URL KEY TOKEN
 *   [MODE [TOKENS [ORDERS]]]
 *
 * Subscribes TOKENS (comma-separated; default NIFTY 50, NIFTY BANK and SENSEX), sets MODE
 * (ltp|quote|full; default full), and prints one JSON line once every token has arrived in
 * that mode and ORDERS (default 0) `order_update` events have come, or on error:
 * `{"connected":bool,"error":string|null,"modes":{token:mode},"ticks":n,
 * "values":{token:tick},"orders":[data…]}`, each tick as the official parser gave it (dates
 * as epoch seconds).
 *
 * @module
 */
import { KiteTicker } from "kiteconnect";

const INDICES = [256265, 260105, 265];
const GIVE_UP_MS = 10_000;
const MODES = ["ltp", "quote", "full"] as const;
type Mode = typeof MODES[number];

interface OfficialTick {
  instrument_token: number;
  mode: string;
  last_price: number;
}

const [url = "", apiKey = "", accessToken = "", modeArg = "full", list = "", ordersArg = "0"] =
  Deno.args;
const ordersWanted = Number(ordersArg);
const mode = MODES.find((m) => m === modeArg);
if (mode === undefined) throw new Error(`Failed to start the probe: unknown mode ${modeArg}`);
const tokens = list === "" ? INDICES : list.split(",").map(Number);
const result = {
  connected: false,
  error: null as string | null,
  modes: {} as Record<string, string>,
  ticks: 0,
  values: {} as Record<string, unknown>,
  orders: [] as unknown[],
};

function done(): boolean {
  return tokens.every((token) => result.modes[String(token)] === mode) &&
    result.orders.length >= ordersWanted;
}

function finish(code: number): void {
  // The parser gives Date objects: epoch seconds compare with our own decoder's.
  const seconds = (_key: string, value: unknown) =>
    typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) / 1000 : value;
  console.log(JSON.stringify(JSON.parse(JSON.stringify(result)), seconds));
  Deno.exit(code);
}

setTimeout(() => {
  result.error ??= `timed out after ${GIVE_UP_MS} ms`;
  finish(1);
}, GIVE_UP_MS);

// `root` is read by the JS (ticker.js) but missing from its .d.ts, hence no inline literal.
const params = { api_key: apiKey, access_token: accessToken, root: url, reconnect: false };
const ticker = new KiteTicker(params);
ticker.on("connect", () => {
  result.connected = true;
  ticker.subscribe(tokens);
  ticker.setMode(mode, tokens);
});
ticker.on("ticks", (ticks: OfficialTick[]) => {
  for (const tick of ticks) {
    result.ticks++;
    if (tick.last_price > 0) result.modes[String(tick.instrument_token)] = tick.mode;
    if (tick.mode === mode) result.values[String(tick.instrument_token)] = tick;
  }
  if (done()) finish(0);
});
ticker.on("order_update", (order: unknown) => {
  result.orders.push(order);
  if (done()) finish(0);
});
ticker.on("error", (error: { message?: string }) => {
  result.error = String(error?.message ?? error);
  finish(0);
});
ticker.connect();
