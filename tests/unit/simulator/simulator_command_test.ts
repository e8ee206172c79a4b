import assert from "node:assert/strict";
import { nseHolidays2026 } from "../../../src/market/holidays_nse_2026.ts";
import { marketPhase } from "../../../src/market/phase.ts";
import { CREDENTIALS } from "../../_support/sim_fixture.ts";

import { MAIN } from "../../_support/run.ts";
const READY = /^simulator ready (http:\/\/127\.0\.0\.1:(\d+))$/;

function simulateArgs(extra: readonly string[] = []): string[] {
  return [
    "run",
    "--allow-net",
    MAIN,
    "simulate",
    "--listen",
    "127.0.0.1:0",
    "--api-key",
    CREDENTIALS.apiKey,
    "--api-secret",
    CREDENTIALS.apiSecret,
    "--user-id",
    CREDENTIALS.userId,
    "--password",
    CREDENTIALS.password,
    "--redirect-url",
    CREDENTIALS.redirectUrl,
    ...extra,
  ];
}

/** Reads lines from `stream` until one matches; returns the match and the rest of the stream. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<{ match: RegExpExecArray; seen: string[]; rest: ReadableStreamDefaultReader<string> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const seen: string[] = [];
  let buffer = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Failed to see ${pattern}: output ended after ${seen.join(" | ")}`);
    buffer += value;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      seen.push(line);
      const match = pattern.exec(line);
      if (match !== null) return { match, seen, rest: reader };
    }
  }
}

async function drain(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += value;
  }
}

Deno.test("simulate prints its ready line with the real port, serves, and exits 0 on SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: simulateArgs(["--tick-ms", "100"]),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const errors = drain(stderr);
  try {
    const { match, rest } = await readUntil(child.stdout, READY);
    assert.notEqual(Number(match[2]), 0);
    const response = await fetch(`${match[1]}/_sim/stats`);
    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()).handshakes, { accepted: 0, rejected: 0 });
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0, await errors);
    await drain(rest);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited, as it should have.
    }
    await child.status;
    await errors;
  }
});

Deno.test("simulate exits 2 with the usage line for an unknown or missing flag", async () => {
  const cases = [
    simulateArgs(["--bogus", "1"]),
    simulateArgs().filter((arg) => arg !== "--password" && arg !== CREDENTIALS.password),
    simulateArgs(["--tick-ms", "0"]),
    simulateArgs().map((arg) => arg === "127.0.0.1:0" ? "localhost" : arg),
  ];
  for (const args of cases) {
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, `${args.slice(4).join(" ")}: ${stderr}`);
    assert.match(stderr, /Usage: kitekeeper/);
    assert.equal(new TextDecoder().decode(output.stdout), "");
  }
});

Deno.test("simulate --market-hours follows NSE's phases on the real clock; without it the market never closes", async () => {
  for (const extra of [[], ["--market-hours"]]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: simulateArgs(extra),
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const { match, rest } = await readUntil(child.stdout, READY);
      const before = marketPhase(Date.now(), { holidays: nseHolidays2026() }).phase;
      const stats = await (await fetch(`${match[1]}/_sim/stats`)).json();
      const after = marketPhase(Date.now(), { holidays: nseHolidays2026() }).phase;
      if (extra.length === 0) assert.equal(stats.market_moving, true);
      else if (before === after) {
        assert.equal(stats.market_moving, before === "pre_open" || before === "open", before);
      }
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await drain(rest);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
    }
  }
});
