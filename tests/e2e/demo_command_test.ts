import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { parseEnv } from "../../src/token/env_file.ts";

import { MAIN } from "../_support/run.ts";
const OVERALL_TIMEOUT_MS = 60_000;

/** The permission flags of the `demo` task: the demo must run with exactly these. */
function demoTaskFlags(): string[] {
  const words = denoJson.tasks.demo.split(/\s+/);
  return words.filter((word) => word.startsWith("--allow-"));
}

/** Lines of a stream, collected as they arrive, with a way to wait for the next match. */
interface LineLog {
  readonly lines: readonly string[];
  /** Resolves with the index of the first line at or after `from` matching `pattern`. */
  next(pattern: RegExp, from: number): Promise<number>;
  /** Resolves once the stream has ended. */
  readonly ended: Promise<void>;
}

function lineLog(stream: ReadableStream<Uint8Array>, name: string): LineLog {
  const lines: string[] = [];
  let wake = Promise.withResolvers<void>();
  let done = false;
  async function pump(): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
      wake.resolve();
      wake = Promise.withResolvers<void>();
    }
    if (buffer !== "") lines.push(buffer);
    done = true;
    wake.resolve();
  }
  return {
    lines,
    ended: pump(),
    async next(pattern, from) {
      while (true) {
        const index = lines.findIndex((line, at) => at >= from && pattern.test(line));
        if (index >= 0) return index;
        if (done) throw new Error(`Failed to see ${pattern} on ${name}: the stream ended`);
        await wake.promise;
      }
    },
  };
}

/** Rejects after `ms` unless disarmed; the timer is always cleared. */
function deadline(ms: number): { expired: Promise<never>; disarm(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`Failed to see the cycle within ${ms} ms`)), ms);
  });
  expired.catch(() => {});
  return { expired, disarm: () => clearTimeout(id) };
}

/** The line a login callback logs once its token is in `.env`. */
const WRITTEN = /INFO {2}Login completed for \w+; token [0-9a-f]{12} written to \.env$/;

async function tokenIn(envFile: string): Promise<string> {
  const token = parseEnv(await Deno.readTextFile(envFile))["KITE_ACCESS_TOKEN"];
  assert.ok(token !== undefined && token !== "", `no token in ${envFile} after a login`);
  return token;
}

Deno.test("demo --auto goes Live → Expired (one rejected handshake) → Live, exits 0 on SIGTERM, and never prints a token", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...demoTaskFlags(),
      MAIN,
      "demo",
      "--auto",
      "--listen",
      "127.0.0.1:0",
      "--cycle-s",
      "1",
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const out = lineLog(child.stdout, "stdout");
  const err = lineLog(child.stderr, "stderr");
  const timer = deadline(OVERALL_TIMEOUT_MS);
  const tokens: string[] = [];
  let envFile = "";
  try {
    const walk = async () => {
      const where = await out.next(/^\s+\.env\s+(\S+)/, 0);
      envFile = /^\s+\.env\s+(\S+)/.exec(out.lines[where] ?? "")?.[1] ?? "";
      const loginLine = await out.next(
        /^\s+Log in:\s+http:\/\/127\.0\.0\.1:\d+\/api\/auth\/login$/,
        0,
      );
      assert.ok(loginLine > where);
      await out.next(/Kite user id AB1234, password \S+/, 0);

      // The callback hands the token over before writing .env: the feed can be Live before
      // the write is done, which the "written to .env" line marks.
      const live = await out.next(/INFO {2}Reconnecting → Live in \d+ ms$/, 0);
      await out.next(WRITTEN, 0);
      tokens.push(await tokenIn(envFile));
      const expired = await out.next(
        /INFO {2}demo: Expired after 1 rejected handshake;/,
        live + 1,
      );
      await out.next(/INFO {2}Reconnecting → Live in \d+ ms$/, expired + 1);
      await out.next(WRITTEN, expired + 1);
      tokens.push(await tokenIn(envFile));
      await err.next(/WARN {2}Reconnecting → Expired: token rejected$/, 0);
    };
    const walking = walk();
    walking.catch(() => {}); // Reported by the race; after a timeout it fails as the child ends.
    await Promise.race([walking, timer.expired]);
  } finally {
    timer.disarm();
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await Promise.all([out.ended, err.ended]);
  const transcript = [...out.lines, ...err.lines].join("\n");
  assert.equal(status.code, 0, transcript);
  assert.match(transcript, /Received SIGTERM; shutting down/);

  // The tokens the logins wrote into .env appear nowhere in the output.
  assert.equal(tokens.length, 2);
  for (const token of tokens) assert.ok(!transcript.includes(token), "a token was printed");
  // Nor any other token-shaped run (request tokens, public tokens). Login states are hex
  // with dots (nonce.expiry.hmac), so a lowercase-hex run is not a Kite token.
  const tokenShaped = transcript.match(/(?<![A-Za-z0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])/g) ?? [];
  assert.deepEqual(tokenShaped.filter((run) => !/^[0-9a-f]+$/.test(run)), []);

  // The temp dir with the .env went away with the demo.
  await assert.rejects(Deno.stat(envFile), Deno.errors.NotFound);
});

/** Starts `demo` in `tmp` and resolves with the child and its `.env` once it is printed. */
async function startDemo(tmp: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...demoTaskFlags(), MAIN, "demo", "--listen", "127.0.0.1:0"],
    env: { TMPDIR: tmp },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const out = lineLog(child.stdout, "stdout");
  const err = lineLog(child.stderr, "stderr");
  const where = await out.next(/^\s+\.env\s+(\S+)/, 0);
  const envFile = /^\s+\.env\s+(\S+)/.exec(out.lines[where] ?? "")?.[1] ?? "";
  return { child, out, err, envFile };
}

Deno.test("fault: a demo killed without a chance to clean up (SIGKILL, or npx passing no SIGTERM on) → the next demo removes its directory", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kitekeeper_demo_tmp_" });
  try {
    const first = await startDemo(tmp);
    first.child.kill("SIGKILL");
    await first.child.status;
    await Promise.all([first.out.ended, first.err.ended]);
    assert.ok((await Deno.stat(first.envFile)).isFile, "SIGKILL leaves the .env behind");

    const start = performance.now();
    const second = await startDemo(tmp);
    const dir = first.envFile.slice(0, first.envFile.lastIndexOf("/"));
    await second.out.next(new RegExp(`Removed ${dir}, left by a demo that is gone`), 0);
    console.log(
      `fault matrix | demo killed | next demo swept the leftover in ${
        Math.round(performance.now() - start)
      } ms`,
    );
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    assert.ok((await Deno.stat(second.envFile)).isFile, "the live demo's own .env is kept");

    second.child.kill("SIGTERM");
    assert.equal((await second.child.status).code, 0);
    await Promise.all([second.out.ended, second.err.ended]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "nothing left in the temp dir");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fault: a SIGTERM repeated while the demo shuts down (deno task passes a group's SIGTERM on) → still exit 0, nothing left", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "kitekeeper_demo_tmp_" });
  try {
    const demo = await startDemo(tmp);
    demo.child.kill("SIGTERM");
    await demo.out.next(/Received SIGTERM; shutting down/, 0);
    // The shutdown has begun: the first listener has run.
    demo.child.kill("SIGTERM");
    assert.equal((await demo.child.status).code, 0);
    await Promise.all([demo.out.ended, demo.err.ended]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "nothing left in the temp dir");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
