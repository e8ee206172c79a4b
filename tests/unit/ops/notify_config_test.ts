import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../src/config.ts";

const BASE = { KITE_API_KEY: "k", KITE_API_SECRET: "s" };
const ENV_FILE = "/srv/kitekeeper/.env";
const BOT_URL = "https://api.telegram.org/bot123456:AAF-secret/sendMessage";

function load(file: Record<string, string>, env: Record<string, string> = {}) {
  return loadConfig({ ...BASE, ...file }, { env, envFile: ENV_FILE });
}

Deno.test("loadConfig() leaves notifications off without KITEKEEPER_NOTIFY_URL", () => {
  assert.equal(load({ KITEKEEPER_NOTIFY_FORMAT: "slack" }).notify, undefined);
});

Deno.test("loadConfig() reads the notify URL with json as the default format", () => {
  assert.deepEqual(load({ KITEKEEPER_NOTIFY_URL: "https://hooks.example/x" }).notify, {
    format: "json",
    url: "https://hooks.example/x",
  });
  assert.deepEqual(
    load({ KITEKEEPER_NOTIFY_URL: "https://ntfy.sh/t" }, { KITEKEEPER_NOTIFY_FORMAT: " NTFY " })
      .notify,
    { format: "ntfy", url: "https://ntfy.sh/t" },
  );
});

Deno.test("loadConfig() takes telegram with a chat id, and names the chat id when it is missing", () => {
  assert.deepEqual(
    load({
      KITEKEEPER_NOTIFY_URL: BOT_URL,
      KITEKEEPER_NOTIFY_FORMAT: "telegram",
      KITEKEEPER_TELEGRAM_CHAT_ID: "-100123",
    }).notify,
    { format: "telegram", url: BOT_URL, chatId: "-100123" },
  );
  assert.throws(
    () => load({ KITEKEEPER_NOTIFY_URL: BOT_URL, KITEKEEPER_NOTIFY_FORMAT: "telegram" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /^Missing KITEKEEPER_TELEGRAM_CHAT_ID .*\/srv\/kitekeeper\/\.env/,
      );
      assert.ok(!error.message.includes("AAF-secret"), "the bot token stays out of the message");
      return true;
    },
  );
});

Deno.test("loadConfig() refuses an unknown format and a non-HTTP URL without quoting the URL", () => {
  assert.throws(
    () => load({ KITEKEEPER_NOTIFY_URL: "https://x.example/h", KITEKEEPER_NOTIFY_FORMAT: "email" }),
    {
      name: "ConfigError",
      message: /KITEKEEPER_NOTIFY_FORMAT .*"email" is not json, ntfy, telegram or slack/,
    },
  );
  assert.throws(
    () => load({ KITEKEEPER_NOTIFY_URL: "ftp://user:hunter2@x.example/h" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^Invalid KITEKEEPER_NOTIFY_URL in \/srv\/kitekeeper\/\.env/);
      assert.ok(!error.message.includes("hunter2"));
      return true;
    },
  );
});
