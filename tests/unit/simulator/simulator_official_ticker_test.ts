import assert from "node:assert/strict";
import type { Mode, Tick } from "../../../src/kite/packets.ts";
import { optionTokens } from "../../../src/simulator/instruments.ts";
import { startSimulator } from "../../../src/simulator/simulator.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";
import { control, CREDENTIALS, simOptions } from "../../_support/sim_fixture.ts";
import { isTicks, WsProbe } from "../../_support/ws_probe.ts";

const PROBE = new URL("../../_support/official_ticker_probe.ts", import.meta.url);
const ROOT = new URL("../../../", import.meta.url);

interface ProbeResult {
  connected: boolean;
  error: string | null;
  modes: Record<string, string>;
  ticks: number;
  values: Record<string, Record<string, unknown>>;
  orders: unknown[];
}

/** Runs the official KiteTicker in a child process and returns what it printed. */
async function runOfficialTicker(
  url: string,
  token: string,
  extra: readonly string[] = [],
): Promise<ProbeResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      PROBE.pathname,
      url,
      CREDENTIALS.apiKey,
      token,
      ...extra,
    ],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const last = stdout.split("\n").at(-1) ?? "";
  assert.ok(
    last.startsWith("{"),
    `probe printed: ${stdout}\n${new TextDecoder().decode(output.stderr)}`,
  );
  return JSON.parse(last);
}

Deno.test("the official KiteTicker gets full ticks for the three indices", async () => {
  await using sim = await startSimulator(simOptions());
  const result = await runOfficialTicker(sim.tickerUrl, sim.issueAccessToken());
  assert.equal(result.error, null);
  assert.equal(result.connected, true);
  assert.deepEqual(result.modes, { "256265": "full", "260105": "full", "265": "full" });
  assert.deepEqual(sim.stats().handshakes, { accepted: 1, rejected: 0 });
});

Deno.test("the official KiteTicker gets a 403 error for a bad token", async () => {
  await using sim = await startSimulator(simOptions());
  const result = await runOfficialTicker(sim.tickerUrl, "b".repeat(32));
  assert.equal(result.connected, false);
  assert.match(result.error ?? "", /403/);
  assert.deepEqual(sim.stats().handshakes, { accepted: 0, rejected: 1 });
});

/** One instrument of every segment: indices, NSE, BSE, NFO, BFO, CDS (÷1e7), BCD (÷1e4), MCX. */
const EVERY_SEGMENT = [
  256265,
  260105,
  265,
  408065,
  500325 * 256 + 4,
  optionTokens(1)[0] as number,
  800001 * 256 + 5,
  1001 * 256 + 3,
  2001 * 256 + 6,
  400002 * 256 + 7,
];

/** What the official parser should give for `tick`, in its own field names. */
function officialShape(tick: Tick): Record<string, unknown> {
  const base = {
    tradable: tick.tradable,
    mode: tick.mode,
    instrument_token: tick.instrument_token,
  };
  if (tick.kind === "ltp") return { ...base, last_price: tick.last_price };
  const ohlc = { ...tick.ohlc };
  if (tick.kind === "index") {
    const index = { ...base, last_price: tick.last_price, ohlc, change: tick.change_percent };
    return tick.mode === "full" ? { ...index, exchange_timestamp: tick.exchange_timestamp } : index;
  }
  const quote = {
    ...base,
    last_price: tick.last_price,
    last_traded_quantity: tick.last_quantity,
    average_traded_price: tick.average_price,
    volume_traded: tick.volume,
    total_buy_quantity: tick.buy_quantity,
    total_sell_quantity: tick.sell_quantity,
    ohlc,
    change: tick.change_percent,
  };
  if (tick.mode !== "full") return quote;
  return {
    ...quote,
    last_trade_time: tick.last_trade_time,
    exchange_timestamp: tick.exchange_timestamp,
    oi: tick.oi,
    oi_day_high: tick.oi_day_high,
    oi_day_low: tick.oi_day_low,
    depth: {
      buy: tick.depth.buy.map((l) => ({ ...l })),
      sell: tick.depth.sell.map((l) => ({ ...l })),
    },
  };
}

for (const mode of ["ltp", "quote", "full"] as Mode[]) {
  Deno.test(`the official KiteTicker decodes ${mode} ticks of every segment to what our decoder reads`, async () => {
    // A closed market (a Saturday, with --market-hours): nothing moves, so both sockets get
    // the same cached ticks.
    const start = Date.UTC(2026, 0, 10, 6, 0);
    await using sim = await startSimulator(
      simOptions({ clock: new FakeClock(start), marketHours: true }),
    );
    const token = sim.issueAccessToken();
    const ours = new WsProbe(
      `${sim.tickerUrl}?api_key=${CREDENTIALS.apiKey}&access_token=${token}`,
    );
    await ours.opened();
    ours.send({ a: "subscribe", v: EVERY_SEGMENT });
    ours.send({ a: "mode", v: [mode, EVERY_SEGMENT] });
    const seen = new Map<number, Tick>();
    while (EVERY_SEGMENT.some((t) => seen.get(t)?.mode !== mode)) {
      for (const tick of (await ours.next(isTicks)).decoded.ticks) {
        seen.set(tick.instrument_token, tick);
      }
    }
    const result = await runOfficialTicker(sim.tickerUrl, token, [mode, EVERY_SEGMENT.join(",")]);
    assert.equal(result.error, null);
    for (const instrument of EVERY_SEGMENT) {
      const tick = seen.get(instrument) as Tick;
      assert.deepEqual(
        result.values[String(instrument)],
        officialShape(tick),
        `${instrument} ${mode}`,
      );
    }
    await ours.close();
  });
}

Deno.test("the official KiteTicker gets an error, not a connection, for a 4th socket", async () => {
  await using sim = await startSimulator(simOptions());
  const url = (t: string) => `${sim.tickerUrl}?api_key=${CREDENTIALS.apiKey}&access_token=${t}`;
  const probes = [
    new WsProbe(url(sim.issueAccessToken())),
    new WsProbe(url(sim.issueAccessToken())),
    new WsProbe(url(sim.issueAccessToken())),
  ];
  await Promise.all(probes.map((p) => p.opened()));
  const result = await runOfficialTicker(sim.tickerUrl, sim.issueAccessToken());
  assert.equal(result.connected, false);
  assert.match(result.error ?? "", /429/);
  await Promise.all(probes.map((p) => p.close()));
});

/** The fields of Kite's order postback (Kite's postback docs; kiteconnect-mocks postback.json). */
const POSTBACK_FIELDS = [
  "user_id",
  "unfilled_quantity",
  "app_id",
  "checksum",
  "placed_by",
  "order_id",
  "exchange_order_id",
  "parent_order_id",
  "status",
  "status_message",
  "status_message_raw",
  "order_timestamp",
  "exchange_update_timestamp",
  "exchange_timestamp",
  "variety",
  "exchange",
  "tradingsymbol",
  "instrument_token",
  "order_type",
  "transaction_type",
  "validity",
  "product",
  "quantity",
  "disclosed_quantity",
  "price",
  "trigger_price",
  "average_price",
  "filled_quantity",
  "pending_quantity",
  "cancelled_quantity",
  "market_protection",
  "meta",
  "tag",
  "guid",
];

Deno.test("/_sim/order reaches the official KiteTicker as an order_update with the postback's fields", async () => {
  await using sim = await startSimulator(simOptions());
  const probe = runOfficialTicker(sim.tickerUrl, sim.issueAccessToken(), [
    "ltp",
    "256265",
    "1",
  ]);
  // The probe subscribes once connected: then it is listening.
  while (sim.stats().subscriptions["256265"] === undefined) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const sent = await control(sim, "order");
  assert.equal(sent["sent"], 1);
  const result = await probe;
  assert.equal(result.error, null);
  const [order] = result.orders as Record<string, unknown>[];
  assert.equal(order?.["order_id"], sent["order_id"]);
  assert.equal(order?.["status"], "COMPLETE");
  assert.equal(order?.["user_id"], CREDENTIALS.userId);
  assert.deepEqual(Object.keys(order ?? {}).sort(), [...POSTBACK_FIELDS].sort());
});
