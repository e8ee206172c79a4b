/**
 * Runs the official `KiteTicker` against a ticker URL in its own process (it keeps
 * module-level state and leaves a read timer running, so it cannot share a test process).
 *
 * Usage: deno run --allow-net --allow-env --allow-read _official_ticker_probe.ts URL KEY TOKEN
 *
 * Subscribes NIFTY 50, NIFTY BANK and SENSEX, sets mode full, and prints one JSON line:
 * `{"connected":bool,"error":string|null,"modes":{token:mode},"ticks":n}` once every index
 * has arrived in full mode, or on error.
 *
 * @module
 */
import { KiteTicker } from "kiteconnect";

const INDICES = [256265, 260105, 265];
const GIVE_UP_MS = 10_000;

interface OfficialTick {
  instrument_token: number;
  mode: string;
  last_price: number;
}

const [url = "", apiKey = "", accessToken = ""] = Deno.args;
const result = {
  connected: false,
  error: null as string | null,
  modes: {} as Record<string, string>,
  ticks: 0,
};

function finish(code: number): void {
  console.log(JSON.stringify(result));
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
  ticker.subscribe(INDICES);
  ticker.setMode(ticker.modeFull, INDICES);
});
ticker.on("ticks", (ticks: OfficialTick[]) => {
  for (const tick of ticks) {
    result.ticks++;
    if (tick.last_price > 0) result.modes[String(tick.instrument_token)] = tick.mode;
  }
  if (INDICES.every((token) => result.modes[String(token)] === "full")) finish(0);
});
ticker.on("error", (error: { message?: string }) => {
  result.error = String(error?.message ?? error);
  finish(0);
});
ticker.connect();
