import assert from "node:assert/strict";
import type { BenchResults } from "../../scripts/bench.ts";
import { figure } from "../../scripts/_bench_stats.ts";
import {
  currentSection,
  renderSection,
  replaceSection,
  SECTION_END,
  SECTION_START,
  sectionAgrees,
} from "../../scripts/perf_table.ts";

function results(value: number): BenchResults {
  return {
    date: "2026-12-02T07:12:00.000Z",
    quick: false,
    machine: {
      cpu: "Test CPU",
      cores: 2,
      os: "linux x86_64",
      deno: "2.9.6",
      v8: "14.0",
      loadavg_before: [0.5, 0.4, 0.3],
      loadavg_after: [0.6, 0.5, 0.4],
    },
    duration_s: 300,
    figures: [
      figure({
        key: "status.requests_per_s",
        benchmark: "/status",
        name: "requests/s",
        unit: "req/s",
        value,
        baseline: { name: "bare Deno.serve", value: 20000 },
      }, { text: "≥ 0.8 × baseline", met: (v, b) => v >= 0.8 * b }),
    ],
    details: {},
    goals: { met: value >= 16000 ? 1 : 0, total: 1 },
  };
}

Deno.test("renderSection() puts the machine, the load, the table and the goals between the markers", () => {
  const section = renderSection(results(17000));
  assert.ok(section.startsWith(SECTION_START) && section.endsWith(SECTION_END));
  assert.match(section, /load average \(1, 5, 15 min\) 0\.5, 0\.4, 0\.3 at the start/);
  assert.match(section, /\| \/status \| requests\/s \| 17,000 req\/s \| 20,000 req\/s/);
  assert.match(section, /≥ 0\.8 × baseline: met/);
  assert.match(section, /Goals met: 1 of 1\./);
});

Deno.test("replaceSection() swaps only the section; sectionAgrees() ignores deno fmt's padding", () => {
  const doc = `# Title\n\nBefore.\n\n${renderSection(results(10000))}\n\nAfter.\n`;
  const next = replaceSection(doc, renderSection(results(17000)));
  assert.ok(next.startsWith("# Title\n\nBefore.\n\n") && next.endsWith("\n\nAfter.\n"));
  assert.ok(sectionAgrees(next, results(17000)));
  assert.ok(!sectionAgrees(next, results(10000)), "another run's figures do not agree");
  const padded = next.replace("| /status | requests/s |", "| /status   | requests/s    |");
  assert.ok(sectionAgrees(padded, results(17000)));
  assert.equal(currentSection("no markers"), "");
  assert.throws(() => replaceSection("no markers", "x"), SyntaxError);
});

Deno.test("docs/performance.md's table is the one docs/performance.json renders to", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/performance.md", import.meta.url));
  const results = JSON.parse(
    await Deno.readTextFile(new URL("../../docs/performance.json", import.meta.url)),
  ) as BenchResults;
  assert.ok(currentSection(doc) !== "", "docs/performance.md has the generated section");
  assert.ok(
    sectionAgrees(doc, results),
    "the table was edited by hand or docs/performance.json changed: run scripts/perf_table.ts",
  );
});
