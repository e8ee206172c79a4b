/**
 * The benchmarks' figures as a Markdown table, for `deno task bench`'s output and the table
 * `scripts/perf_table.ts` writes into docs/performance.md.
 *
 * @module
 */
import { type Figure, round } from "./_bench_stats.ts";

function amount(value: number, unit: string): string {
  const digits = Math.abs(value) >= 1000 ? 0 : Math.abs(value) >= 10 ? 1 : value === 0 ? 0 : 3;
  const text = value.toLocaleString("en-US", { maximumFractionDigits: digits });
  return unit === "% of a core" ? `${text} %` : `${text} ${unit}`;
}

function ratioText(ratio: number): string {
  if (!Number.isFinite(ratio)) return "–";
  return `${ratio >= 10 ? round(ratio, 1) : round(ratio, 2)}×`;
}

/** The figures as a Markdown table: figure, kitekeeper, baseline, ratio, goal. */
export function formatTable(figures: readonly Figure[]): string {
  const header = ["benchmark", "figure", "kitekeeper", "baseline", "ratio", "goal"];
  const rows = figures.map((f) => [
    f.benchmark,
    f.name,
    amount(f.value, f.unit),
    `${amount(f.baseline.value, f.unit)} (${f.baseline.name})`,
    ratioText(f.ratio),
    f.goal === undefined ? "" : `${f.goal.text}: ${f.goal.met ? "met" : "missed"}`,
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
