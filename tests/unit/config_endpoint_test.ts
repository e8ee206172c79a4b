import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.ts";

const ENV_FILE = "/srv/kitekeeper/.env";
const BASE = { KITE_API_KEY: "key1", KITE_API_SECRET: "secret1" };

function load(file: Record<string, string>, env: Record<string, string> = {}) {
  return loadConfig({ ...BASE, ...file }, { env, envFile: ENV_FILE });
}

Deno.test("loadConfig() reads the endpoint's client credentials and client limit", () => {
  assert.deepEqual(load({}).clientTokens, []);
  assert.equal(load({}).maxClients, 64);
  const config = load({
    KITEKEEPER_CLIENT_TOKENS: " strategy-box-0123456789 , backtest-0123456789abc,,",
    KITEKEEPER_MAX_CLIENTS: "8",
  });
  assert.deepEqual(config.clientTokens, ["strategy-box-0123456789", "backtest-0123456789abc"]);
  assert.equal(config.maxClients, 8);
  assert.ok(Object.isFrozen(config.clientTokens));
});

Deno.test("loadConfig() refuses a guessable client credential without quoting it", () => {
  assert.throws(
    () => load({ KITEKEEPER_CLIENT_TOKENS: "strategy-box-0123456789,hunter2" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        `Invalid KITEKEEPER_CLIENT_TOKENS in ${ENV_FILE}: credential 2 is 7 characters; use 16 or more`,
      );
      return true;
    },
  );
  for (const value of ["0", "-1", "many", "10001"]) {
    assert.throws(() => load({}, { KITEKEEPER_MAX_CLIENTS: value }), /KITEKEEPER_MAX_CLIENTS/);
  }
});
