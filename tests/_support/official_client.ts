/**
 * The official `KiteTicker` (npm kiteconnect, unmodified) as a local program would run it,
 * in its own process (its state is per process). It subscribes the given instruments in the
 * given mode on every `connect`, and prints one JSON line per event:
 * `{"event":"connect"}`, `{"event":"ticks","at":ms,"ticks":[…]}` (as the official parser
 * decoded them), `{"event":"order_update",…}`, and `close`, `disconnect`, `reconnect`,
 * `noreconnect`, `error` with what they carried. It runs until its stdin ends.
 *
 * Usage: deno run --allow-net --allow-env --allow-read official_client.ts ROOT KEY TOKEN MODE
 *   TOKENS [noreconnect]
 *
 * @module
 */
import { KiteTicker } from "kiteconnect";

const [root = "", apiKey = "", accessToken = "", given = "full", list = "", flag = ""] = Deno.args;
const mode = given === "ltp" || given === "quote" ? given : "full";
const tokens = list.split(",").filter((t) => t !== "").map(Number);

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  const message = (value as { message?: unknown })?.message;
  return typeof message === "string" ? message : String(value);
}

// `root` is read by ticker.js but missing from its .d.ts, hence no inline literal.
const params = { api_key: apiKey, access_token: accessToken, root, reconnect: flag === "" };
const ticker = new KiteTicker(params);
ticker.on("connect", () => {
  print({ event: "connect" });
  if (tokens.length === 0) return;
  ticker.subscribe(tokens);
  ticker.setMode(mode, tokens);
});
ticker.on("ticks", (ticks: unknown[]) => print({ event: "ticks", at: Date.now(), ticks }));
ticker.on("order_update", (order: unknown) => print({ event: "order_update", order }));
ticker.on("close", (event: unknown) => {
  print({ event: "close", code: (event as { code?: number } | undefined)?.code ?? null });
});
ticker.on("disconnect", () => print({ event: "disconnect" }));
ticker.on("reconnect", (count: number) => print({ event: "reconnect", count }));
ticker.on("noreconnect", () => print({ event: "noreconnect" }));
ticker.on("error", (error: unknown) => print({ event: "error", message: describe(error) }));
ticker.connect();

// Runs until the parent closes stdin.
for await (const _ of Deno.stdin.readable) { /* nothing to read: waiting for the end */ }
ticker.disconnect();
Deno.exit(0);
