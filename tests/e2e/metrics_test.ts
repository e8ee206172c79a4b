import assert from "node:assert/strict";
import { handshakeResult } from "../../src/ops/daemon_metrics.ts";
import {
  type Event,
  initialSnapshot,
  type Snapshot,
  transition,
} from "../../src/lifecycle/machine.ts";
import { createCounter, EXPOSITION_CONTENT_TYPE, renderMetrics } from "../../src/ops/metrics.ts";
import { type ParsedFamily, parseExposition } from "../_support/exposition.ts";
import { KITE, simControl, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

function promtoolAvailable(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const PROMTOOL = promtoolAvailable();
if (!PROMTOOL) {
  console.log(
    "promtool not found: skipping `promtool check metrics` (apt-get install prometheus); " +
      "the strict in-repo parser still checks /metrics",
  );
}

async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: `${decoder.decode(stdout)}${decoder.decode(stderr)}` };
}

function value(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name);
  assert.ok(family, `${name} is exposed`);
  const want = JSON.stringify(Object.entries(labels).sort());
  return family.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === want)
    ?.value;
}

// 2024-03-11 09:30 IST.
const T0 = Date.UTC(2024, 2, 11, 4, 0);
const TOKEN = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };

/** Runs `events` through the real machine, returning every (previous, next) pair. */
function run(events: readonly Event[]): [Snapshot, Snapshot][] {
  let snapshot = initialSnapshot(T0, { subscriptions: { tokens: [256265], mode: "full" } });
  const pairs: [Snapshot, Snapshot][] = [];
  events.forEach((event, index) => {
    const next = transition(snapshot, event, { now: T0 + index * 10, random: 0.5 }).snapshot;
    pairs.push([snapshot, next]);
    snapshot = next;
  });
  return pairs;
}

function results(events: readonly Event[]): (string | null)[] {
  return run(events).map(([previous, next]) => handshakeResult(previous, next));
}

const LOADED: Event = { type: "TokenLoaded", ...TOKEN, source: "file" };

Deno.test("renderMetrics() writes HELP and TYPE before each family's samples and escapes labels", () => {
  const text = renderMetrics([
    {
      name: "demo_total",
      help: "A counter.\nWith a back\\slash.",
      type: "counter",
      samples: [{ labels: { reason: 'said "no"\nthen\\left' }, value: 3 }],
    },
    { name: "demo_gauge", help: "A gauge.", type: "gauge", samples: [{ value: 1.5 }] },
    { name: "demo_empty", help: "No samples yet.", type: "gauge", samples: [] },
  ]);
  assert.equal(
    text,
    [
      "# HELP demo_total A counter.\\nWith a back\\\\slash.",
      "# TYPE demo_total counter",
      'demo_total{reason="said \\"no\\"\\nthen\\\\left"} 3',
      "# HELP demo_gauge A gauge.",
      "# TYPE demo_gauge gauge",
      "demo_gauge 1.5",
      "# HELP demo_empty No samples yet.",
      "# TYPE demo_empty gauge",
      "",
    ].join("\n"),
  );
  const parsed = parseExposition(text);
  assert.deepEqual(parsed.get("demo_total")?.samples, [
    { labels: { reason: 'said "no"\nthen\\left' }, value: 3 },
  ]);
});

Deno.test("renderMetrics() refuses a counter not named *_total, a bad name and a duplicate", () => {
  const sample = [{ value: 1 }];
  assert.throws(
    () => renderMetrics([{ name: "ticks", help: "x", type: "counter", samples: sample }]),
    { name: "TypeError", message: /ticks: a counter's name ends in _total/ },
  );
  assert.throws(
    () => renderMetrics([{ name: "1bad", help: "x", type: "gauge", samples: sample }]),
    TypeError,
  );
  assert.throws(() =>
    renderMetrics([
      { name: "g", help: "x", type: "gauge", samples: sample },
      { name: "g", help: "x", type: "gauge", samples: sample },
    ]), /named twice/);
  assert.throws(
    () =>
      renderMetrics([{
        name: "g",
        help: "x",
        type: "gauge",
        samples: [{ labels: { "bad-label": "v" }, value: 1 }],
      }]),
    /invalid label name/,
  );
});

Deno.test("createCounter() keeps one series per label set, whatever the key order", () => {
  const counter = createCounter();
  counter.inc({ from: "Live", to: "Expired" });
  counter.inc({ to: "Expired", from: "Live" }, { by: 2 });
  counter.inc({ from: "Expired", to: "Reconnecting" });
  assert.deepEqual(counter.samples(), [
    { labels: { from: "Live", to: "Expired" }, value: 3 },
    { labels: { from: "Expired", to: "Reconnecting" }, value: 1 },
  ]);
  assert.throws(() => counter.inc({}, { by: -1 }), RangeError);
});

Deno.test("handshakeResult() names how each handshake ended, from snapshots alone", () => {
  assert.deepEqual(
    results([
      LOADED, // gen 1 opening
      { type: "SocketOpened", gen: 1 }, // accepted
      { type: "DataReceived", gen: 1 }, // Live: no handshake involved
      { type: "SocketFailed", gen: 1, kind: "network", detail: "reset" }, // an open socket
    ]),
    [null, "accepted", null, null],
  );
  assert.deepEqual(
    results([
      LOADED,
      { type: "SocketFailed", gen: 1, kind: "network", detail: "refused" },
      { type: "RetryDue", shard: 0 }, // gen 2 opening (the backoff is 0 ms or more; the time is later)
    ]).slice(0, 2),
    [null, "network"],
  );
  assert.deepEqual(
    results([LOADED, { type: "SocketFailed", gen: 1, kind: "auth", detail: "HTTP 403" }]),
    [null, "auth"],
  );
});

Deno.test("handshakeResult() counts a handshake stall, and not a superseded or stopped one", () => {
  const stalled = run([LOADED]);
  const [, opening] = stalled[0]!;
  const after = transition(opening, { type: "WatchdogDue", shard: 0 }, {
    now: T0 + opening.config.stallMs,
    random: 0.5,
  }).snapshot;
  assert.equal(handshakeResult(opening, after), "stall");

  const other = { token: "b".repeat(32), fingerprint: "bbbbbbbbbbb2" };
  assert.deepEqual(
    results([LOADED, { type: "TokenLoaded", ...other, source: "callback" }, { type: "Stop" }]),
    [null, null, null],
  );
});

Deno.test("GET /metrics exposes the lifecycle, handshakes, ticks and timestamps, and no secret", async () => {
  await using h = await startHarness();
  const { daemon, sim } = h;
  await waitFor(daemon, "Expired without a token", (s) => s.state.name === "Expired");

  const token = sim.issueAccessToken();
  await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
  await daemon.reload();
  await waitFor(daemon, "Live", (s) => s.state.name === "Live" && s.lastDataAt !== null);
  await waitFor(daemon, "some ticks", () => daemon.feed.snapshot().ticks_total > 0);

  // A refused reconnect (503: network), then accepted again; then Kite kills the token.
  await simControl(sim, "refuse?ms=300");
  await simControl(sim, "drop");
  await waitFor(daemon, "a refused handshake", (s) => s.lastError?.kind === "network");
  await waitFor(daemon, "Live again", (s) => s.state.name === "Live");
  await simControl(sim, "garbage");
  await simControl(sim, "text-error");
  await waitFor(daemon, "the text error counted", (s) => s.textErrorsTotal === 1);
  await waitFor(
    daemon,
    "the garbage counted",
    () => daemon.feed.snapshot().decode_errors_total > 0,
  );
  const live = daemon.actor.snapshot();

  const response = await fetch(`${daemon.url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
  const text = await response.text();
  const metrics = parseExposition(text);

  assert.equal(value(metrics, "kitekeeper_state", { state: "Live" }), 1);
  for (const state of ["Disconnected", "Reconnecting", "Expired"]) {
    assert.equal(value(metrics, "kitekeeper_state", { state }), 0);
  }
  assert.equal(
    value(metrics, "kitekeeper_transitions_total", { from: "Disconnected", to: "Expired" }),
    1,
  );
  assert.equal(
    value(metrics, "kitekeeper_transitions_total", { from: "Expired", to: "Reconnecting" }),
    1,
  );
  // A stall on a slow machine could add a round; the drop and the two Lives always happen.
  const toLive = value(metrics, "kitekeeper_transitions_total", {
    from: "Reconnecting",
    to: "Live",
  })!;
  assert.ok(toLive >= 2, `Reconnecting → Live ${toLive}`);
  assert.ok(
    value(metrics, "kitekeeper_transitions_total", { from: "Live", to: "Reconnecting" })! >= 1,
  );
  const accepted = value(metrics, "kitekeeper_handshakes_total", { result: "accepted" })!;
  assert.ok(accepted >= toLive, `every Live follows an accepted handshake (${accepted})`);
  assert.ok(value(metrics, "kitekeeper_handshakes_total", { result: "network" })! >= 1);
  assert.equal(value(metrics, "kitekeeper_handshakes_total", { result: "auth" }), 0);
  assert.equal(value(metrics, "kitekeeper_reconnects_total"), live.reconnectsTotal);
  assert.ok(value(metrics, "kitekeeper_ticks_total")! > 0);
  assert.ok(value(metrics, "kitekeeper_decode_errors_total")! > 0);
  assert.equal(value(metrics, "kitekeeper_text_errors_total"), 1);
  assert.ok(value(metrics, "kitekeeper_watcher_events_total")! >= 2, "startup read + reload");
  assert.equal(value(metrics, "kitekeeper_login_needed"), 0);
  assert.equal(
    value(metrics, "kitekeeper_token_expected_expiry_timestamp_seconds"),
    live.expectedExpiry! / 1000,
  );
  const lastData = value(metrics, "kitekeeper_last_data_timestamp_seconds")!;
  assert.ok(Math.abs(lastData - Date.now() / 1000) < 5, `last data ${lastData} is recent`);
  const started = value(metrics, "process_start_time_seconds")!;
  assert.ok(started <= Date.now() / 1000 && started > Date.now() / 1000 - 60);

  for (const secret of [token, KITE.apiSecret, live.token!.fingerprint]) {
    assert.ok(!text.includes(secret), "no token, secret or fingerprint in /metrics");
  }

  // Kite kills the token: the next handshake is refused with 403.
  await simControl(sim, "expire");
  await simControl(sim, "drop");
  await waitFor(daemon, "Expired", (s) => s.state.name === "Expired");
  const after = parseExposition(await (await fetch(`${daemon.url}/metrics`)).text());
  assert.equal(value(after, "kitekeeper_state", { state: "Expired" }), 1);
  assert.equal(value(after, "kitekeeper_handshakes_total", { result: "auth" }), 1);
  assert.equal(value(after, "kitekeeper_login_needed"), 1);
  assert.equal(
    value(after, "kitekeeper_transitions_total", { from: "Reconnecting", to: "Expired" }),
    1,
  );

  if (PROMTOOL) {
    const checked = await promtoolCheck(text);
    assert.equal(checked.code, 0, checked.output);
    assert.equal(checked.output.trim(), "", "promtool finds nothing to lint");
  }
});

Deno.test({
  name: "promtool check metrics rejects what the strict parser rejects (the check can fail)",
  ignore: !PROMTOOL,
  async fn() {
    const bad = "# HELP ticks Ticks.\n# TYPE ticks counter\nticks 1\n";
    assert.throws(() => parseExposition(bad), /does not end in _total/);
    const checked = await promtoolCheck(bad);
    assert.notEqual(checked.output.trim(), "", "promtool reports the counter name");
  },
});

Deno.test("parseExposition() rejects samples before HELP/TYPE, split families and bad lines", () => {
  assert.throws(() => parseExposition("up 1\n"), /before its HELP and TYPE/);
  assert.throws(
    () => parseExposition("# TYPE up gauge\nup 1\n"),
    /TYPE before HELP/,
  );
  assert.throws(
    () =>
      parseExposition(
        '# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na{x="1"} 2\n',
      ),
    /split/,
  );
  assert.throws(() => parseExposition("# HELP a x\n# TYPE a gauge\na one\n"), /invalid value/);
  assert.throws(() => parseExposition("# HELP a x\n# TYPE a gauge\na 1"), /final newline/);
  assert.throws(() => parseExposition("# HELP a x\n# TYPE a gauge\na{b=1} 1\n"), /quoted/);
});
