import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { readToken } from "../../src/token/read_token.ts";

const ENV_FILE = "/srv/kitekeeper/.env";
const BASE = { KITE_API_KEY: "key1", KITE_API_SECRET: "secret1" };
const TOKEN = "abcdefghijklmnopqrstuvwxyz012345";
const PATTERN = /^[A-Za-z0-9]{32}$/;

function load(
  file: Record<string, string>,
  env: Record<string, string | undefined> = {},
  listen?: string,
) {
  return loadConfig(file, { env, envFile: ENV_FILE, ...(listen === undefined ? {} : { listen }) });
}

function rejects(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, message);
    assert.ok(!error.message.includes("\n"));
    return true;
  });
}

Deno.test("loadConfig() fills the documented defaults", () => {
  const config = load(BASE);
  assert.equal(config.apiKey, "key1");
  assert.equal(config.apiSecret, "secret1");
  assert.equal(config.userId, undefined);
  assert.ok(!("userId" in config));
  assert.equal(config.apiRoot, "https://api.kite.trade");
  assert.equal(config.loginUrl, "https://kite.zerodha.com/connect/login");
  assert.equal(config.tickerUrl, "wss://ws.kite.trade");
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8000 });
  assert.equal(config.publicUrl, "http://127.0.0.1:8000");
  assert.deepEqual(config.instruments, [256265, 260105, 265]);
  assert.equal(config.mode, "full");
  assert.deepEqual(config.tokenExpiry, { hour: 6, minute: 0 });
  assert.equal(config.tokenPattern.source, "^[A-Za-z0-9]{32}$");
  assert.equal(config.envMaxBytes, 1024 * 1024);
  assert.equal(config.backoffBaseMs, 250);
  assert.equal(config.backoffCapMs, 30000);
  assert.equal(config.stallMs, 5000);
  assert.deepEqual(config.warnings, []);
  assert.equal(config.envFile, ENV_FILE);
});

Deno.test("loadConfig() returns a deeply frozen object", () => {
  const config = load(BASE);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.listen));
  assert.ok(Object.isFrozen(config.instruments));
  assert.ok(Object.isFrozen(config.tokenExpiry));
});

Deno.test("loadConfig() lets the environment win over the file, and --listen over both", () => {
  const file = {
    ...BASE,
    KITE_USER_ID: "AB1234",
    KITEKEEPER_MODE: "ltp",
    KITEKEEPER_LISTEN: "127.0.0.1:9000",
  };
  const env = {
    KITE_API_KEY: "envkey",
    KITEKEEPER_MODE: "quote",
    KITEKEEPER_LISTEN: "0.0.0.0:9100",
  };
  const config = load(file, env);
  assert.equal(config.apiKey, "envkey");
  assert.equal(config.apiSecret, "secret1");
  assert.equal(config.userId, "AB1234");
  assert.equal(config.mode, "quote");
  assert.deepEqual(config.listen, { hostname: "0.0.0.0", port: 9100 });
  assert.equal(config.publicUrl, "http://127.0.0.1:9100");
  assert.deepEqual(load(file, env, "[::1]:0").listen, { hostname: "::1", port: 0 });
  assert.equal(load(file, env, "[::1]:7000").publicUrl, "http://[::1]:7000");
});

Deno.test("loadConfig() treats an empty value as unset", () => {
  const config = load({ ...BASE, KITEKEEPER_MODE: "ltp" }, {
    KITEKEEPER_MODE: "",
    KITE_USER_ID: "",
  });
  assert.equal(config.mode, "ltp");
  assert.ok(!("userId" in config));
});

Deno.test("loadConfig() accepts the seed setup's ZERODHA_ names", () => {
  const config = load(
    { ZERODHA_API_KEY: "zkey", ZERODHA_API_SECRET: "zsecret", ZERODHA_ACCESS_TOKEN: TOKEN },
  );
  assert.equal(config.apiKey, "zkey");
  assert.equal(config.apiSecret, "zsecret");
  assert.equal(load({ ...BASE, ZERODHA_API_KEY: "zkey" }).apiKey, "key1");
});

Deno.test("loadConfig() names the variable and the file when the key or secret is missing", () => {
  rejects(
    () => load({ KITE_API_SECRET: "s" }),
    `Missing KITE_API_KEY: set it in ${ENV_FILE} or the environment`,
  );
  rejects(
    () => load({ KITE_API_KEY: "k", KITE_API_SECRET: "" }),
    `Missing KITE_API_SECRET: set it in ${ENV_FILE} or the environment`,
  );
  assert.equal(load({}, BASE).apiKey, "key1");
});

Deno.test("loadConfig() rejects malformed values, saying where they came from", () => {
  rejects(
    () => load({ ...BASE, KITEKEEPER_MODE: "snap" }),
    `Invalid KITEKEEPER_MODE in ${ENV_FILE}: "snap" is not ltp, quote or full`,
  );
  rejects(
    () => load(BASE, { KITEKEEPER_INSTRUMENTS: "256265,NIFTY" }),
    `Invalid KITEKEEPER_INSTRUMENTS in the environment: "NIFTY" is not an instrument token (a positive integer)`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_INSTRUMENTS: " , " }),
    `Invalid KITEKEEPER_INSTRUMENTS in ${ENV_FILE}: no instrument tokens`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_TOKEN_EXPIRY: "24:00" }),
    `Invalid KITEKEEPER_TOKEN_EXPIRY in ${ENV_FILE}: "24:00" is not a 24-hour HH:MM time`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_TOKEN_EXPIRY: "6am" }),
    `Invalid KITEKEEPER_TOKEN_EXPIRY in ${ENV_FILE}: "6am" is not a 24-hour HH:MM time`,
  );
  rejects(
    () => load(BASE, {}, "localhost"),
    `Invalid --listen on the command line: "localhost" is not HOST:PORT`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_LISTEN: "127.0.0.1:70000" }),
    `Invalid KITEKEEPER_LISTEN in ${ENV_FILE}: "127.0.0.1:70000" is not HOST:PORT`,
  );
  rejects(
    () => load({ ...BASE, KITE_TICKER_URL: "https://ws.kite.trade" }),
    `Invalid KITE_TICKER_URL in ${ENV_FILE}: expected a ws: or wss: URL, got https:`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_BACKOFF_CAP_MS: "100" }),
    `Invalid KITEKEEPER_BACKOFF_CAP_MS in ${ENV_FILE}: 100 is below the backoff base (250)`,
  );
  rejects(
    () => load({ ...BASE, KITEKEEPER_STALL_MS: "-5" }),
    `Invalid KITEKEEPER_STALL_MS in ${ENV_FILE}: "-5" is not a positive whole number of milliseconds`,
  );
  assert.throws(
    () => load({ ...BASE, KITEKEEPER_TOKEN_PATTERN: "^[a-z" }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message.startsWith(`Invalid KITEKEEPER_TOKEN_PATTERN in ${ENV_FILE}: `),
  );
});

Deno.test("loadConfig() parses instruments, mode, expiry, pattern and URLs", () => {
  const config = load({
    ...BASE,
    KITEKEEPER_INSTRUMENTS: " 408065, 738561 ,408065",
    KITEKEEPER_MODE: "LTP",
    KITEKEEPER_TOKEN_EXPIRY: "7:30",
    KITEKEEPER_TOKEN_PATTERN: "^tok_[a-z]+$",
    KITE_API_ROOT: "http://127.0.0.1:9999/",
    KITE_TICKER_URL: "ws://127.0.0.1:9999/ws",
    KITEKEEPER_PUBLIC_URL: "https://kite.example.com/keeper/",
  });
  assert.deepEqual(config.instruments, [408065, 738561]);
  assert.equal(config.mode, "ltp");
  assert.deepEqual(config.tokenExpiry, { hour: 7, minute: 30 });
  assert.ok(config.tokenPattern.test("tok_abc"));
  assert.equal(config.apiRoot, "http://127.0.0.1:9999");
  assert.equal(config.tickerUrl, "ws://127.0.0.1:9999/ws");
  assert.equal(config.publicUrl, "https://kite.example.com/keeper");
});

Deno.test("loadConfig() ignores a token in the environment, with a warning", () => {
  const config = load(BASE, { KITE_ACCESS_TOKEN: TOKEN });
  assert.deepEqual(config.warnings, [
    `KITE_ACCESS_TOKEN in the environment is ignored: the token is read from ${ENV_FILE}`,
  ]);
  assert.ok(!JSON.stringify(config).includes(TOKEN));
});

Deno.test("readToken() returns a valid token with the key it was found under", () => {
  assert.deepEqual(readToken({ KITE_ACCESS_TOKEN: TOKEN }, PATTERN), {
    kind: "valid",
    token: TOKEN,
    key: "KITE_ACCESS_TOKEN",
  });
  assert.deepEqual(readToken({ ZERODHA_ACCESS_TOKEN: TOKEN }, PATTERN), {
    kind: "valid",
    token: TOKEN,
    key: "ZERODHA_ACCESS_TOKEN",
  });
  assert.deepEqual(readToken({ KITE_ACCESS_TOKEN: "", ZERODHA_ACCESS_TOKEN: TOKEN }, PATTERN), {
    kind: "valid",
    token: TOKEN,
    key: "ZERODHA_ACCESS_TOKEN",
  });
});

Deno.test("readToken() says absent or invalid without quoting the value", () => {
  assert.deepEqual(readToken({ KITE_API_KEY: "k" }, PATTERN), { kind: "absent" });
  assert.deepEqual(readToken({ KITE_ACCESS_TOKEN: "" }, PATTERN), {
    kind: "invalid",
    key: "KITE_ACCESS_TOKEN",
    detail: "KITE_ACCESS_TOKEN is empty",
  });
  const short = TOKEN.slice(1);
  const read = readToken({ KITE_ACCESS_TOKEN: short }, PATTERN);
  assert.deepEqual(read, {
    kind: "invalid",
    key: "KITE_ACCESS_TOKEN",
    detail: "KITE_ACCESS_TOKEN is 31 characters; expected ^[A-Za-z0-9]{32}$",
  });
  const spaced = readToken({ ZERODHA_ACCESS_TOKEN: `${TOKEN} ` }, PATTERN);
  assert.deepEqual(spaced, {
    kind: "invalid",
    key: "ZERODHA_ACCESS_TOKEN",
    detail:
      "ZERODHA_ACCESS_TOKEN is 33 characters (it contains whitespace); expected ^[A-Za-z0-9]{32}$",
  });
});

Deno.test("loadConfig() reads the probe and reminder times, with Kite-informed defaults", () => {
  const defaults = load(BASE);
  assert.deepEqual(defaults.tokenRecheck, { hour: 7, minute: 35 });
  assert.equal(defaults.probeIntervalMs, 900_000);
  assert.deepEqual(defaults.remindAt, [{ hour: 8, minute: 30 }, { hour: 8, minute: 50 }]);
  const custom = load({
    ...BASE,
    KITEKEEPER_TOKEN_RECHECK: "07:45",
    KITEKEEPER_PROBE_INTERVAL_MS: "60000",
    KITEKEEPER_REMIND_AT: " 08:55, 8:15,08:55 ",
  });
  assert.deepEqual(custom.tokenRecheck, { hour: 7, minute: 45 });
  assert.equal(custom.probeIntervalMs, 60_000);
  assert.deepEqual(custom.remindAt, [{ hour: 8, minute: 15 }, { hour: 8, minute: 55 }]);
  assert.deepEqual(load({ ...BASE, KITEKEEPER_REMIND_AT: "none" }).remindAt, []);
  assert.throws(
    () => load({ ...BASE, KITEKEEPER_REMIND_AT: "08:30,25:00" }),
    { message: `Invalid KITEKEEPER_REMIND_AT in ${ENV_FILE}: "25:00" is not a 24-hour HH:MM time` },
  );
  assert.throws(
    () => load({ ...BASE, KITEKEEPER_PROBE_INTERVAL_MS: "0" }),
    {
      message:
        `Invalid KITEKEEPER_PROBE_INTERVAL_MS in ${ENV_FILE}: "0" is not a positive whole number of milliseconds`,
    },
  );
});
