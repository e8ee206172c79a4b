import assert from "node:assert/strict";
import { DRIFT_LIMIT_BYTES, FD_SLACK, type SoakReport } from "../../scripts/soak.ts";

const SCRIPT = new URL("../../scripts/soak.ts", import.meta.url).pathname;
const N = 200;
const MB = 1024 * 1024;

/** Runs the soak in a child: `deno test` cannot pass `--expose-gc` to one test. */
async function runSoak(): Promise<SoakReport> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run=ls",
      SCRIPT,
      "--rotations",
      String(N),
      "--drops",
      String(N),
      "--json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr);
  // 0: every goal met; 1: a goal missed (RSS is judged below, loosely); 2: the run failed.
  assert.ok(code === 0 || code === 1, `soak exited ${code}:\n${errors}`);
  return JSON.parse(new TextDecoder().decode(stdout)) as SoakReport;
}

Deno.test("soak: 200 rotations and 200 drops leave fds, timers, listeners and heap flat", async () => {
  const report = await runSoak();
  const { start, end, handshakes } = report;
  console.log(
    `soak N=${N} in ${(report.duration_ms / 1000).toFixed(1)} s: RSS ${
      (start.rss_bytes / MB).toFixed(1)
    } → ${(end.rss_bytes / MB).toFixed(1)} MB, heap used ${
      (start.heap_used_bytes / MB).toFixed(1)
    } → ${(end.heap_used_bytes / MB).toFixed(1)} MB, fds ${start.open_fds} → ${end.open_fds}, ` +
      `timers ${start.pending_timers} → ${end.pending_timers}, ` +
      `listeners ${start.listeners} → ${end.listeners}, ` +
      `rejected handshakes per dead token ≤ ${handshakes.per_dead_token_max}`,
  );

  // It did what it says, with a GC before each sample.
  assert.equal(report.gc, true);
  const { file, direct, login } = report.rotations;
  assert.equal(file + direct + login, N);
  assert.ok(file > 0 && direct > 0 && login > 0, "every rotation path was taken");
  assert.equal(report.drops, N);
  assert.equal(report.expiries, Math.floor(N / report.options.expire_every));
  assert.ok(report.expiries > 0);

  if (Deno.build.os === "linux") {
    assert.notEqual(start.open_fds, null);
    assert.notEqual(end.open_fds, null);
    assert.ok(
      end.open_fds! <= start.open_fds! + FD_SLACK,
      `fds ${start.open_fds} → ${end.open_fds}`,
    );
  }
  assert.equal(end.pending_timers, start.pending_timers);
  assert.equal(end.listeners, start.listeners);

  // The dead token costs one handshake (the one that learns it is dead), never more.
  assert.ok(handshakes.per_dead_token_max <= 1, `${handshakes.per_dead_token_max} on one token`);
  assert.ok(handshakes.on_dead_tokens <= report.expiries);

  // RSS is noisy (V8 grows its reserved heap with the allocation rate): printed, not asserted.
  const heapDrift = end.heap_used_bytes - start.heap_used_bytes;
  assert.ok(heapDrift <= DRIFT_LIMIT_BYTES, `heap used grew ${(heapDrift / MB).toFixed(1)} MB`);
});
