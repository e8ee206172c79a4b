import assert from "node:assert/strict";
import { startSimulator } from "../../../src/simulator/simulator.ts";
import { CREDENTIALS, simOptions } from "../../_support/sim_fixture.ts";

const PROBE = new URL("../../_support/official_ticker_probe.ts", import.meta.url);
const ROOT = new URL("../../../", import.meta.url);

interface ProbeResult {
  connected: boolean;
  error: string | null;
  modes: Record<string, string>;
  ticks: number;
}

/** Runs the official KiteTicker in a child process and returns what it printed. */
async function runOfficialTicker(url: string, token: string): Promise<ProbeResult> {
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
