import assert from "node:assert/strict";
import { isLoopbackHost, startupWarnings } from "../../../src/ops/startup_warnings.ts";
import { LineReader } from "../../_support/lines.ts";
import { kitekeeperRun } from "../../_support/run.ts";

Deno.test("isLoopbackHost() knows 127.0.0.0/8, ::1 and localhost, and nothing else", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.7", "192.168.1.10", "kite.example", "128.0.0.1"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

Deno.test("startupWarnings() warns once when KITE_USER_ID is unset and the listen address is not loopback", () => {
  const exposed = startupWarnings({ listen: { hostname: "0.0.0.0", port: 8000 } });
  assert.equal(exposed.length, 1);
  assert.match(exposed[0]!, /KITE_USER_ID is unset/);
  assert.match(exposed[0]!, /0\.0\.0\.0:8000/);
  assert.match(exposed[0]!, /set KITE_USER_ID$/);
  assert.doesNotMatch(exposed[0]!, /\n/);
  const v6 = startupWarnings({ listen: { hostname: "::", port: 443 } });
  assert.match(v6[0]!, /\[::\]:443/);

  assert.deepEqual(
    startupWarnings({ listen: { hostname: "0.0.0.0", port: 8000 }, userId: "AB1234" }),
    [],
  );
  assert.deepEqual(startupWarnings({ listen: { hostname: "127.0.0.1", port: 8000 } }), []);
  assert.deepEqual(startupWarnings({ listen: { hostname: "::1", port: 8000 } }), []);
});

async function firstLines(
  envText: string,
  listen: string,
): Promise<{ stderr: string; listening: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_warn_" });
  const envFile = `${dir}/.env`;
  await Deno.writeTextFile(envFile, envText, { mode: 0o600 });
  const child = kitekeeperRun(envFile, { listen }).spawn();
  const out = new LineReader(child.stdout);
  const errText = Array.fromAsync(child.stderr.pipeThrough(new TextDecoderStream()));
  const started = out.until(/^kitekeeper listening on .+$/).then(([line]) => line, String);
  const listening = await started;
  if (listening.startsWith("kitekeeper listening")) child.kill("SIGTERM");
  await child.status;
  await out.rest();
  const stderr = (await errText).join("");
  await Deno.remove(dir, { recursive: true });
  assert.match(listening, /^kitekeeper listening on http:\/\//, stderr);
  return { stderr, listening };
}

// Kite and the ticker are never reached: no token, so the daemon only serves and waits.
const ENV = [
  "KITE_API_KEY=k",
  "KITE_API_SECRET=s",
  "KITE_API_ROOT=http://127.0.0.1:9",
  "KITE_LOGIN_URL=http://127.0.0.1:9/connect/login",
  "KITE_TICKER_URL=ws://127.0.0.1:9/ws",
  "",
].join("\n");

Deno.test("run prints the pin warning on a wildcard address, and not with a pin or on loopback", async () => {
  const exposed = await firstLines(ENV, "0.0.0.0:0");
  const warnings = exposed.stderr.split("\n").filter((line) => line.includes("KITE_USER_ID"));
  assert.equal(warnings.length, 1, exposed.stderr);
  assert.match(
    warnings[0]!,
    /^warning: KITE_USER_ID is unset and kitekeeper listens on 0\.0\.0\.0:0/,
  );

  const pinned = await firstLines(`${ENV}KITE_USER_ID=AB1234\n`, "0.0.0.0:0");
  assert.match(pinned.listening, /listening/);
  assert.doesNotMatch(pinned.stderr, /KITE_USER_ID is unset/);
  const loopback = await firstLines(ENV, "127.0.0.1:0");
  assert.doesNotMatch(loopback.stderr, /KITE_USER_ID is unset/);
});
