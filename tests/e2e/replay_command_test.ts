/**
 * A live session through the simulator, journaled by the daemon, replayed by `kitekeeper
 * replay`: the official KiteTicker gets the same decoded ticks in the same order from the
 * replay as it got live, and the session's drop and expiry come back as gap notices.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { encode } from "../../src/kite/packets.ts";
import { istInstant } from "../../src/journal/journal_day.ts";
import { createJournalWriter } from "../../src/journal/writer.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import {
  envText,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { writeToken } from "../../src/token/env_file.ts";
import { skewedClock } from "../_support/daemon_fixture.ts";
import { LineReader } from "../_support/lines.ts";
import { type OfficialEvent, startOfficialClient } from "../_support/official_clients.ts";
import { denoChildEnv, MAIN } from "../_support/run.ts";
import { withTempDir } from "../_support/temp_dir.ts";
import { WsProbe } from "../_support/ws_probe.ts";

const DATE = "2026-12-02";
const CLIENT_TOKEN = "strategy-box-0123456789abcdef";
const TOKENS = [256265, 408065, 738561];

/** `promise`, or a failure naming `what` after 20 s: a stuck child fails the test. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Failed to see ${what} within 20 s`)), 20_000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function ticksOf(events: readonly OfficialEvent[]): unknown[] {
  return events.flatMap((e) => e.event === "ticks" ? [...e.ticks ?? []] : []);
}

/** `kitekeeper replay` of `date` at full speed as a child; resolves once it printed its URL. */
async function startReplay(journal: string, date: string, envFile: string) {
  const args = ["--journal", journal, "--date", date, "--speed", "max", "--listen", "127.0.0.1:0"];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      MAIN,
      "replay",
      ...args,
      "--env-file",
      envFile,
    ],
    env: denoChildEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineReader(child.stdout);
  const stderr = new LineReader(child.stderr);
  const ready = await within(stdout.until(/^replay ready (http:\/\/\S+)$/), "replay ready");
  const url = ready[1] ?? "";
  return {
    url,
    stderr,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

Deno.test("replay: the official client gets the live session's ticks, in order; gaps come back as notices", async () => {
  await withTempDir("kitekeeper_replay_", async (work) => {
    const journal = `${work}/journal`;
    const clock = skewedClock();
    clock.skew = istInstant(DATE, "11:00") - Date.now();
    await using h = await startHarness({
      env: (sim) =>
        envText(sim.url, [
          `KITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}`,
          `KITEKEEPER_JOURNAL_DIR=${journal}`,
        ]),
      daemon: { clock },
    });
    const { daemon } = h;
    // The live client subscribes before any data flows, so it holds the whole session.
    const root = `${daemon.url.replace("http", "ws")}/ws`;
    await using live = startOfficialClient(root, {
      apiKey: KITE.apiKey,
      accessToken: CLIENT_TOKEN,
      mode: "full",
      tokens: TOKENS,
    });
    await live.until((e) => e.event === "connect");
    await writeToken(h.envFile, h.sim.issueAccessToken());
    await waitFor(daemon, "Live", (s) => s.state.name === "Live");
    await live.until(() => ticksOf(live.events).length >= 20);

    // A drop, then an expiry noticed at the next handshake, then a new login.
    let gen = daemon.actor.snapshot().gen;
    await simControl(h.sim, "drop");
    await waitFor(daemon, "Live again", (s) => s.gen > gen && s.state.name === "Live");
    await live.until(() => ticksOf(live.events).length >= 40);
    await simControl(h.sim, "expire");
    await simControl(h.sim, "drop");
    await waitFor(daemon, "Expired", (s) => s.state.name === "Expired");
    gen = daemon.actor.snapshot().gen;
    await writeToken(h.envFile, h.sim.issueAccessToken());
    await waitFor(daemon, "Live on the new token", (s) => s.gen > gen && s.state.name === "Live");
    const before = ticksOf(live.events).length;
    await live.until(() => ticksOf(live.events).length >= before + 20);
    const status = await (await daemon.app.request("/status")).json() as StatusBody;
    assert.ok(status.feed.gaps_today.count >= 2, JSON.stringify(status.feed.gaps_today));
    const liveTicks = ticksOf(live.events);
    await daemon.close();

    await using replay = await startReplay(journal, DATE, h.envFile);
    const wsRoot = `${replay.url.replace("http", "ws")}/ws`;
    const notices = new WsProbe(`${wsRoot}?api_key=${KITE.apiKey}&access_token=${CLIENT_TOKEN}`);
    await notices.opened();
    notices.send({ a: "kitekeeper", v: ["notices"] });
    await using replayed = startOfficialClient(wsRoot, {
      apiKey: KITE.apiKey,
      accessToken: CLIENT_TOKEN,
      mode: "full",
      tokens: TOKENS,
    });
    await within(replay.stderr.until(/^replay finished: \d+ messages/), "the end of the replay");
    await replayed.until(() => ticksOf(replayed.events).length >= liveTicks.length);
    const replayTicks = ticksOf(replayed.events);
    assert.ok(liveTicks.length >= 60);
    assert.deepEqual(replayTicks.slice(0, liveTicks.length), liveTicks);

    const gaps: Record<string, unknown>[] = [];
    while (gaps.length < 2) {
      const event = await notices.next((e) => e.kind === "text" && e.text.includes('"gap"'));
      if (event.kind === "text") gaps.push(JSON.parse(event.text).data);
    }
    for (const gap of gaps) {
      assert.equal(gap.kitekeeper, "gap");
      assert.ok(typeof gap.seconds === "number" && gap.seconds > 0);
    }
    notices.socket.close();
  });
});

Deno.test("replay refuses an unknown date, and says it cannot read a foreign file", async () => {
  await withTempDir("kitekeeper_replay_", async (work) => {
    const env = `${work}/.env`;
    await Deno.writeTextFile(
      env,
      `KITE_API_KEY=k\nKITE_API_SECRET=s\nKITEKEEPER_CLIENT_TOKENS=${CLIENT_TOKEN}\n`,
    );
    await Deno.mkdir(`${work}/j`);
    await Deno.writeTextFile(`${work}/j/2026-12-01.kkj`, "not a journal at all");
    const refused = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "replay",
        "--journal",
        `${work}/j`,
        "--date",
        DATE,
        "--listen",
        "127.0.0.1:0",
        "--env-file",
        env,
      ],
      env: denoChildEnv(),
      clearEnv: true,
    }).output();
    assert.equal(refused.code, 1);
    assert.match(
      new TextDecoder().decode(refused.stderr),
      /no journal for 2026-12-02 .*; it has 2026-12-01/,
    );

    await using replay = await startReplay(`${work}/j`, "2026-12-01", env);
    const client = new WsProbe(
      `${replay.url.replace("http", "ws")}/ws?api_key=k&access_token=${CLIENT_TOKEN}`,
    );
    await client.opened();
    client.send({ a: "subscribe", v: [256265] });
    await within(replay.stderr.until(/^replay finished: 0 messages/), "the end of the replay");
    assert.ok(replay.stderr.seen.some((line) => /: .* is not a kitekeeper journal$/.test(line)));
    client.socket.close();
  });
});

Deno.test("replay of a torn journal serves every whole block and says where it stops", async () => {
  await withTempDir("kitekeeper_replay_", async (work) => {
    const env = `${work}/.env`;
    await Deno.writeTextFile(
      env,
      `KITE_API_KEY=k\nKITE_API_SECRET=s\nKITE_ACCESS_TOKEN=${"a".repeat(32)}\n`,
    );
    const start = istInstant(DATE, "10:00");
    const ticks = [256265, 408065].map((token, i) => ({
      kind: "ltp" as const,
      mode: "ltp" as const,
      instrument_token: token,
      tradable: token !== 256265,
      last_price: 100 + i,
    }));
    {
      await using journal = await createJournalWriter(`${work}/j`, {
        clock: new FakeClock(start),
        log: () => {},
      });
      for (let n = 0; n < 5; n++) {
        journal.append({
          kind: "message",
          at_us: (start + n) * 1000,
          shard: 0,
          bytes: encode(ticks),
        });
        await journal.flush(); // One block each.
      }
    }
    const path = `${work}/j/${DATE}.kkj`;
    const whole = await Deno.readFile(path);
    await Deno.writeFile(path, whole.slice(0, whole.length - 5));
    await using replay = await startReplay(`${work}/j`, DATE, env);
    const client = new WsProbe(
      `${replay.url.replace("http", "ws")}/ws?api_key=k&access_token=${"a".repeat(32)}`,
    );
    await client.opened();
    client.send({ a: "subscribe", v: [256265, 408065] });
    // The journal holds ltp packets: a client in quote mode (the default) would get none.
    client.send({ a: "mode", v: ["ltp", [256265, 408065]] });
    await within(replay.stderr.until(/^replay finished: 4 messages/), "the end of the replay");
    assert.ok(
      replay.stderr.seen.some((line) =>
        /: valid up to byte \d+, then a block cut short/.test(line)
      ),
    );
    for (let n = 0; n < 4; n++) {
      const message = await client.next((e) => e.kind === "binary" && e.decoded.kind === "ticks");
      assert.ok(message.kind === "binary" && message.decoded.kind === "ticks");
      assert.deepEqual(message.decoded.ticks.map((t) => t.last_price), [100, 101]);
    }
    client.socket.close();
  });
});
