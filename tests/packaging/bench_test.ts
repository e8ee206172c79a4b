import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import type { BenchResults } from "../../scripts/bench.ts";

/** Every figure the benchmarks report; the ones with a goal from the issue are marked. */
const EXPECTED: Readonly<Record<string, "goal" | "no goal">> = {
  "recovery.env.p50_ms": "no goal",
  "recovery.env.p90_ms": "no goal",
  "recovery.env.p99_ms": "goal",
  "recovery.env.max_ms": "no goal",
  "recovery.callback.p50_ms": "no goal",
  "recovery.callback.p90_ms": "no goal",
  "recovery.callback.p99_ms": "goal",
  "recovery.callback.max_ms": "no goal",
  "decode.full.ticks_per_s": "goal",
  "decode.quote.ticks_per_s": "no goal",
  "decode.ltp.ticks_per_s": "no goal",
  "fanout.cpu_percent": "goal",
  "fanout.latency.p50_ms": "no goal",
  "fanout.latency.p99_ms": "goal",
  "fanout.relay.cpu_percent": "no goal",
  "fanout.relay.p50_ms": "no goal",
  "fanout.relay.p99_ms": "no goal",
  "fanout.rss_mb": "no goal",
  "endpoint.latency.p50_ms": "no goal",
  "endpoint.latency.p99_ms": "goal",
  "endpoint.relay.cpu_percent": "goal",
  "endpoint.relay.p99_ms": "no goal",
  "endpoint.cpu_per_10k_ticks_s": "no goal",
  "endpoint.rss_mb": "no goal",
  "idle.cpu_percent": "goal",
  "idle.rss_mb": "goal",
  "status.requests_per_s": "goal",
  "status.p99_ms": "no goal",
  "status.app.requests_per_s": "no goal",
  "status.framework.requests_per_s": "no goal",
  "status.listener.requests_per_s": "no goal",
  "simulator.cpu_percent": "no goal",
  "simulator.rss_mb": "no goal",
  "journal.cpu_percent": "goal",
  "journal.bytes_per_tick": "no goal",
  "journal.writes_per_s": "goal",
  "journal.replay_ticks_per_s": "no goal",
  "journal.export_parquet_rows_per_s": "no goal",
  "journal.export_csv_rows_per_s": "no goal",
  "cluster.takeover.p50_ms": "no goal",
  "cluster.takeover.p99_ms": "goal",
  "cluster.bus.ticks_per_s": "goal",
  "cluster.bus.latency_p99_ms": "no goal",
  "cluster.holder.cpu_percent": "no goal",
};

/** `deno task bench`'s command line, run by this Deno, with `extra` arguments. */
function benchCommand(extra: readonly string[]): Deno.Command {
  const [deno, ...args] = denoJson.tasks.bench.split(" ");
  assert.equal(deno, "deno");
  return new Deno.Command(Deno.execPath(), {
    args: [...args, ...extra],
    cwd: new URL("../..", import.meta.url).pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("deno task bench --quick runs every benchmark and reports each figure beside its baseline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_bench_test_" });
  try {
    const out = `${dir}/results.json`;
    // The task's own permissions: a benchmark that needs more fails here, not in a full run.
    const profiles = `${dir}/profiles`;
    const { code, stdout, stderr } = await benchCommand([
      "--quick",
      "--out",
      out,
      "--profile",
      profiles,
    ]).output();
    const printed = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const results = JSON.parse(await Deno.readTextFile(out)) as BenchResults;

    assert.equal(results.quick, true);
    assert.ok(Number.isFinite(Date.parse(results.date)));
    assert.ok(results.machine.cores > 0);
    assert.equal(results.machine.loadavg_before.length, 3);

    const keys = results.figures.map((f) => f.key);
    assert.deepEqual([...keys].sort(), Object.keys(EXPECTED).sort(), "every figure, once");
    for (const f of results.figures) {
      assert.ok(Number.isFinite(f.value) && f.value >= 0, `${f.key}: value ${f.value}`);
      assert.ok(
        Number.isFinite(f.baseline.value) && f.baseline.value > 0,
        `${f.key}: baseline ${f.baseline.value}`,
      );
      assert.ok(Number.isFinite(f.ratio), `${f.key}: ratio ${f.ratio}`);
      const expected = f.value / f.baseline.value;
      assert.ok(Math.abs(f.ratio - expected) <= 1e-9 * Math.max(1, expected), `${f.key}: ratio`);
      assert.equal(f.goal !== undefined, EXPECTED[f.key] === "goal", `${f.key}: goal`);
      if (f.goal !== undefined) assert.equal(typeof f.goal.met, "boolean");
      assert.ok(printed.includes(f.name), `the table shows ${f.key}`);
    }
    assert.equal(results.goals.total, Object.values(EXPECTED).filter((g) => g === "goal").length);
    assert.equal(results.goals.met, results.figures.filter((f) => f.goal?.met).length);

    // Percentiles of one sample come in order.
    const value = (key: string) => results.figures.find((f) => f.key === key)?.value ?? NaN;
    for (const path of ["env", "callback"]) {
      const [p50, p90, p99, max] = ["p50", "p90", "p99", "max"].map((p) =>
        value(`recovery.${path}.${p}_ms`)
      );
      assert.ok(
        p50! <= p90! && p90! <= p99! && p99! <= max!,
        `${path}: ${p50} ${p90} ${p99} ${max}`,
      );
    }
    assert.ok(value("fanout.latency.p50_ms") <= value("fanout.latency.p99_ms"));
    assert.ok(value("endpoint.latency.p50_ms") <= value("endpoint.latency.p99_ms"));
    assert.match(printed, /goals met: \d+\/14/);
    // --profile: a V8 CPU profile of what each benchmark measures, one folder each.
    for (const name of new Set(results.figures.map((f) => f.key.split(".")[0]!))) {
      const files = await Array.fromAsync(Deno.readDir(`${profiles}/${name}`));
      assert.ok(files.some((file) => file.name.endsWith(".cpuprofile")), `a profile of ${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
