/**
 * The fault matrix, logging: text from outside (here Kite's error text, sent by the simulator)
 * reaches the log of a real `kitekeeper run` escaped and capped: no forged lines, no terminal
 * escapes, no 200 KB lines.
 *
 * @module
 */
import assert from "node:assert/strict";
import { envText } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { MAX_LOG_MESSAGE_CHARS } from "../../src/log.ts";
import { LineReader } from "../_support/lines.ts";
import { kitekeeperRun, startSimulatorFor } from "../_support/run.ts";

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:DEBUG|INFO |WARN |ERROR) /;

Deno.test("fault: Kite's error text with newlines, escapes and 200 KB → one escaped, capped log line", async () => {
  const port = freePort();
  await using sim = await startSimulatorFor(port, {
    heartbeatMs: 50,
  });
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_log_" });
  try {
    const token = sim.issueAccessToken();
    await Deno.writeTextFile(
      `${dir}/.env`,
      envText(sim.url, [`KITE_ACCESS_TOKEN=${token}`]),
      { mode: 0o600 },
    );
    const child = kitekeeperRun(`${dir}/.env`, { listen: `127.0.0.1:${port}` }).spawn();
    const out = new LineReader(child.stdout);
    const errText = Array.fromAsync(child.stderr.pipeThrough(new TextDecoderStream()))
      .then((chunks) => chunks.join(""));
    await out.until(/Reconnecting → Live/);

    const hostile = "bad\n2026-01-01T00:00:00.000Z INFO  Login completed for FORGED\r\x1b[31mred" +
      "\u2028sep" + "x".repeat(200_000);
    const sent = await fetch(`${sim.url}/_sim/text-error`, { method: "POST", body: hostile });
    assert.equal((await sent.json()).sent, 1);
    // The text error is counted in /status once handled, its log line written with it.
    const deadline = Date.now() + 10_000;
    while (true) {
      const status = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
      if (status.connection.text_errors_total >= 1) break;
      assert.ok(Date.now() < deadline, "the text error was never counted");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    const output = `${await out.rest()}${await errText}`;
    const lines = output.split("\n").filter((line) => line !== "");
    const line = lines.find((l) => l.includes("Kite sent an error"));
    assert.ok(line !== undefined, "the error text was logged");
    assert.match(line, STAMP);
    assert.ok(line.includes("bad\\n2026-01-01T00:00:00.000Z INFO  Login completed for FORGED"));
    assert.ok(line.includes("\\r\\x1b[31mred\\u2028sep"));
    assert.ok(line.length < MAX_LOG_MESSAGE_CHARS + 200, `capped: ${line.length} chars`);
    assert.match(line, /… \(\d+ more chars\)$/);
    assert.ok(!output.includes("\x1b"), "no escape character reaches the output");
    assert.ok(!output.includes("\u2028"), "no line separator reaches the output");
    for (const each of lines) {
      assert.ok(!/^2026-01-01T00:00:00\.000Z/.test(each), `no forged line: ${each.slice(0, 80)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
