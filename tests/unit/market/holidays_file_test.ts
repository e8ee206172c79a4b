import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../../src/config.ts";
import { holidaysWarning, readHolidays } from "../../../src/market/holidays_file.ts";
import { kitekeeperRun } from "../../_support/run.ts";

const KEYS = { KITE_API_KEY: "k", KITE_API_SECRET: "s" };

Deno.test("readHolidays(null) is NSE's 2026 list, built in", async () => {
  const holidays = await readHolidays(null);
  assert.equal(holidays.source, "the built-in NSE 2026 list");
  assert.ok(holidays.dates.has("2026-01-26"), "Republic Day");
  assert.ok(holidays.dates.has("2026-12-25"), "Christmas");
  assert.ok(!holidays.dates.has("2026-03-04"), "an ordinary Wednesday");
});

Deno.test("readHolidays() reads a file, and a bad line or a missing file is an error naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_holidays_" });
  try {
    const good = `${dir}/nse_2027.txt`;
    await Deno.writeTextFile(good, "# 2027\r\n2027-01-26  # Republic Day\r\n\r\n2027-03-22\r\n");
    const holidays = await readHolidays(good);
    assert.deepEqual([...holidays.dates], ["2027-01-26", "2027-03-22"]);
    assert.equal(holidays.source, good);

    const bad = `${dir}/bad.txt`;
    await Deno.writeTextFile(bad, "2027-01-26\n2027-02-30\n");
    await assert.rejects(readHolidays(bad), (error: unknown) => {
      assert.ok(error instanceof SyntaxError);
      assert.match(error.message, /^Failed to parse holidays in /);
      assert.ok(error.message.includes(bad) && error.message.includes('line 2 "2027-02-30"'));
      return true;
    });

    const missing = `${dir}/absent.txt`;
    await assert.rejects(readHolidays(missing), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^Failed to read /);
      assert.ok(error.message.includes(missing));
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("holidaysWarning() speaks up when the calendar has no date in the current IST year", async () => {
  const builtIn = await readHolidays(null);
  assert.equal(holidaysWarning(builtIn, { now: Date.parse("2026-06-01T00:00:00Z") }), null);
  const warning = holidaysWarning(builtIn, { now: Date.parse("2027-01-04T00:00:00Z") });
  assert.match(warning ?? "", /the built-in NSE 2026 list\) lists no holiday in 2027/);
  assert.match(warning ?? "", /set KITEKEEPER_HOLIDAYS/);
  // 2026-12-31T20:00Z is already 2027-01-01 in IST.
  assert.notEqual(holidaysWarning(builtIn, { now: Date.parse("2026-12-31T20:00:00Z") }), null);
});

Deno.test("loadConfig() takes KITEKEEPER_HOLIDAYS relative to the .env's directory and reads no file", () => {
  const envFile = "/etc/kitekeeper/.env";
  const relative = loadConfig({ ...KEYS, KITEKEEPER_HOLIDAYS: "nse_2027.txt" }, {
    env: {},
    envFile,
  });
  assert.equal(relative.holidaysFile, "/etc/kitekeeper/nse_2027.txt");
  const absolute = loadConfig(KEYS, {
    env: { KITEKEEPER_HOLIDAYS: "/srv/holidays.txt" },
    envFile,
  });
  assert.equal(absolute.holidaysFile, "/srv/holidays.txt");
  assert.equal(loadConfig(KEYS, { env: {}, envFile }).holidaysFile, null);
});

Deno.test("loadConfig() reads KITEKEEPER_NO_TICKS_WARN_MIN: 5 by default, 0 turns it off", () => {
  const envFile = "/etc/kitekeeper/.env";
  assert.equal(loadConfig(KEYS, { env: {}, envFile }).noTicksWarnMs, 5 * 60_000);
  const env = (value: string) => ({ env: { KITEKEEPER_NO_TICKS_WARN_MIN: value }, envFile });
  assert.equal(loadConfig(KEYS, env("12")).noTicksWarnMs, 12 * 60_000);
  assert.equal(loadConfig(KEYS, env("0")).noTicksWarnMs, null);
  for (const value of ["-1", "2.5", "five", "1441"]) {
    assert.throws(
      () => loadConfig(KEYS, env(value)),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.startsWith("Invalid KITEKEEPER_NO_TICKS_WARN_MIN in the environment"),
      value,
    );
  }
});

Deno.test("run with an unreadable KITEKEEPER_HOLIDAYS exits 2 with one line naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_holidays_" });
  try {
    const envFile = `${dir}/.env`;
    await Deno.writeTextFile(envFile, "KITE_API_KEY=k\nKITE_API_SECRET=s\n", { mode: 0o600 });
    const output = await kitekeeperRun(envFile, {
      listen: "127.0.0.1:0",
      env: { KITEKEEPER_HOLIDAYS: "missing.txt" },
    }).output();
    const stderr = new TextDecoder().decode(output.stderr).trim();
    assert.equal(output.code, 2, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^Invalid KITEKEEPER_HOLIDAYS: Failed to read /);
    assert.ok(stderr.includes(`${dir}/missing.txt`), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
